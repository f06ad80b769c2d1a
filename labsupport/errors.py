"""Every error labsupport raises, under one root.

    LabError                      root: a message and, where there is one, the command that fixes it
    ├── ConfigError               a LAB_* variable holds a value it does not accept
    ├── InvalidReference          an image reference that does not parse
    ├── EngineUnavailable         the Docker engine cannot be reached
    ├── LabNotRunning             the lab's registry container is not running or not answering
    ├── PortInUse                 the registry's port is held by something else
    ├── ImageNotFound             a local image or tag does not exist
    ├── BuildFailed               a docker build failed
    ├── RegistryError             the registry answered with an error (status, code, detail)
    │   ├── Unauthorized          401: no credentials or wrong ones
    │   ├── Denied                403 / DENIED: the credential may not do this
    │   ├── NameUnknown           the repository does not exist
    │   ├── ManifestUnknown       the tag or digest does not exist
    │   ├── BlobUnknown           the blob does not exist
    │   ├── ManifestInvalid       the registry refused a manifest (bad JSON, unknown blob, bad digest)
    │   └── RegistryUnreachable   no HTTP answer at all
    ├── DockerConfigError         the Docker client's config.json (or its credential helper) is unreadable
    ├── PushFailed                docker push reported an error; `explanation` says what it means
    ├── RunFailed                 a container of an image exited with an error (or never exited)
    ├── UnknownExercise           an exercise id that the course does not have
    └── NotebookError             a source notebook that cannot be released (nested/unterminated regions)

A learner's wrong answer is never an exception: checks return a CheckResult. These errors mean the lab or the
input to a command is wrong, and each carries a `fix` line. No message ever contains a password or token.
"""

from __future__ import annotations


class LabError(Exception):
    """Root of every labsupport error: a one-line message and an optional fix command or advice."""

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        return self.message if not self.fix else f"{self.message}\n  fix: {self.fix}"


class ConfigError(LabError):
    """A LAB_* environment variable holds a value it does not accept."""

    def __init__(self, variable: str, value: str, accepts: str) -> None:
        super().__init__(
            f"{variable}={value!r} is not valid: {variable} accepts {accepts}",
            fix=f"unset {variable} or set it to {accepts}",
        )
        self.variable = variable
        self.value = value
        self.accepts = accepts


class InvalidReference(LabError):
    """An image reference that does not parse; `reason` says which part is wrong."""

    def __init__(self, reference: str, reason: str) -> None:
        super().__init__(
            f"invalid image reference {reference!r}: {reason}",
            fix="write it as [host[:port]/]namespace/repository[:tag][@sha256:<64 hex>], lowercase",
        )
        self.reference = reference
        self.reason = reason


class EngineUnavailable(LabError):
    """The Docker engine cannot be reached."""


class LabNotRunning(LabError):
    """The lab's registry container is not running or does not answer."""


class PortInUse(LabError):
    """The registry's port is held by another process or container."""

    def __init__(self, port: int, message: str, *, fix: str) -> None:
        super().__init__(message, fix=fix)
        self.port = port


class ImageNotFound(LabError):
    """A local image or tag does not exist."""


class BuildFailed(LabError):
    """A docker build failed; the message holds the build's own error line."""


class RegistryError(LabError):
    """The registry answered with an error: HTTP status, the registry's error code and its detail."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None,
                 fix: str | None = None) -> None:
        super().__init__(message, fix=fix)
        self.status = status
        self.code = code


class Unauthorized(RegistryError):
    """401: the registry wants credentials, or rejected the ones sent."""


class Denied(RegistryError):
    """403 or DENIED: the credential is valid but may not do this."""


class NameUnknown(RegistryError):
    """The repository is not known to the registry."""


class ManifestUnknown(RegistryError):
    """The tag or digest is not known in the repository."""


class BlobUnknown(RegistryError):
    """The blob is not known in the repository."""


class ManifestInvalid(RegistryError):
    """The registry refused a manifest: invalid JSON, a blob it does not hold, or a digest that does not match."""


class RegistryUnreachable(RegistryError):
    """No HTTP answer at all: connection refused, timeout, DNS."""


class DockerConfigError(LabError):
    """The Docker client's config.json, or the credential helper it names, cannot be read."""


class PushFailed(LabError):
    """docker push reported an error. `raw` is the engine's line, `explanation` what it means for a learner."""

    def __init__(self, reference: str, raw: str, explanation: str, *, fix: str | None = None,
                 kind: str = "unknown") -> None:
        super().__init__(f"push of {reference} failed: {raw}\n  why: {explanation}", fix=fix)
        self.reference = reference
        self.raw = raw
        self.explanation = explanation
        self.kind = kind  # what went wrong, as pushstream.classify names it ("no-credentials", …)


class RunFailed(LabError):
    """A container run from an image exited with an error or did not exit in time; `output` is what it printed."""

    def __init__(self, reference: str, exit_code: int | None, output: str, *, reason: str | None = None,
                 fix: str | None = None) -> None:
        how = reason or (f"exited with code {exit_code}" if exit_code is not None else "did not exit in time")
        super().__init__(f"a container of {reference} {how}: {output.strip()[-300:]}", fix=fix)
        self.reference = reference
        self.exit_code = exit_code
        self.output = output


class UnknownExercise(LabError):
    """An exercise id that the course does not have."""


class NotebookError(LabError):
    """A source notebook that cannot be released."""
