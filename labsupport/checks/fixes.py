"""The commands that fix the lab's common states, one text for each: the checks and `labsupport doctor` both
state them, so a learner reads one fix for one cause wherever it is found.
"""

from __future__ import annotations

from ..config import LabConfig

#: The lab registry is down, missing or refuses the lab's own credential.
LAB_UP = "labsupport up   (starts or repairs the lab registry; then check again)"


def login_command(config: LabConfig) -> str:
    """The login lesson 04 teaches: the lab's password piped in from `labsupport credentials`, never typed."""
    return (f"labsupport credentials --password | docker login {config.registry} -u {config.learner} "
            "--password-stdin")


def login_then(login: str, command: str) -> str:
    """`command` with the login run before its first `docker push` (the pushes need the credential)."""
    at = command.find("docker push")
    if at < 0:
        return f"{login} && {command}"
    return f"{command[:at]}{login} && {command[at:]}"
