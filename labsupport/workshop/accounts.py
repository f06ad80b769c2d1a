"""The workshop's accounts and who may do what: names, generated passwords, bcrypt hashes, the access policy.

The server side keeps only bcrypt hashes (cost 10) in `server/accounts.json`; the plain passwords exist once,
in the handout for the instructor (credentials.csv and the printable sheet). The policy is pure: given a user
and the scopes a client asked for, it grants the intersection of what was asked and what the user may do.

    learner L      pull, push, delete on `L/*`; pull on `shared/*`; nothing else, no catalog
    instructor     everything, including the catalog (`registry:catalog:*`)
    anonymous      nothing
"""

from __future__ import annotations

import csv
import io
import json
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import bcrypt

from ..config import learner_from_user
from ..errors import LabError
from ..refs import is_path_component

BCRYPT_ROUNDS = 10
SHARED_NAMESPACE = "shared"
LEARNER = "learner"
INSTRUCTOR = "instructor"
# Letters and digits that cannot be mistaken for one another on a printed sheet (no 0/o, 1/l/i).
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_NAME_COLUMNS = ("learner", "name", "username", "user", "login")


def check_name(name: str, what: str = "learner name") -> str:
    """Return `name` when it is a valid registry namespace, else raise a LabError saying what is accepted."""
    if not name or len(name) > 64 or not is_path_component(name):
        raise LabError(f"{name!r} is not a valid {what}: it becomes the learner's namespace in the registry",
                       fix="use lowercase letters and digits, joined by single . _ or - (e.g. ada-lovelace)")
    return name


def new_password() -> str:
    """A random password that reads well on paper: four groups of four, about 79 bits."""
    groups = ("".join(secrets.choice(_ALPHABET) for _ in range(4)) for _ in range(4))
    return "-".join(groups)


def hash_password(password: str, rounds: int = BCRYPT_ROUNDS) -> str:
    """The bcrypt hash of a password, as the server keeps it."""
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=rounds)).decode("ascii")


def numbered_learners(count: int) -> list[str]:
    """`learner-01` … `learner-NN` for a class of `count`."""
    if not 1 <= count <= 999:
        raise LabError(f"--learners {count}: a class has between 1 and 999 learners",
                       fix="labsupport workshop init --learners 30 --out DIR")
    width = max(2, len(str(count)))
    return [f"learner-{n:0{width}d}" for n in range(1, count + 1)]


def roster_learners(text: str, source: str = "the roster") -> list[str]:
    """Learner names from a roster CSV: a `learner`/`name` column if a header names one, else the first column.

    Names are made registry-safe (lowercase, other characters to '-'), so "Ada Lovelace" becomes ada-lovelace;
    two rows that end up with the same name are an error, not a silent merge.
    """
    rows = [row for row in csv.reader(io.StringIO(text)) if row and any(cell.strip() for cell in row)]
    if not rows:
        raise LabError(f"{source} names no learner", fix="one learner per line, or a CSV with a `learner` column")
    header = [cell.strip().lower() for cell in rows[0]]
    column = next((header.index(name) for name in _NAME_COLUMNS if name in header), None)
    body = rows[1:] if column is not None else rows
    names: dict[str, int] = {}
    for number, row in enumerate(body, start=2 if column is not None else 1):
        cell = row[column or 0].strip() if len(row) > (column or 0) else ""
        if not cell:
            continue
        name = learner_from_user(cell)
        if name in names:
            raise LabError(f"{source}: line {number} ({cell!r}) and line {names[name]} both become learner "
                           f"{name!r}", fix="give the two learners distinct names in the roster")
        names[name] = number
    if not names:
        raise LabError(f"{source} names no learner", fix="one learner per line, or a CSV with a `learner` column")
    return [check_name(name) for name in names]


@dataclass(frozen=True)
class Account:
    """One user of the workshop: name, role and the bcrypt hash of the password (never the password)."""

    name: str
    role: str
    hash: str = field(repr=False)

    def verify(self, password: str) -> bool:
        """Whether `password` is this account's (bcrypt: about a tenth of a second at cost 10)."""
        try:
            return bcrypt.checkpw(password.encode(), self.hash.encode("ascii"))
        except ValueError:
            return False


class Accounts:
    """Every account of a workshop, read from and written to `server/accounts.json`."""

    def __init__(self, accounts: Iterable[Account]) -> None:
        self._by_name = {account.name: account for account in accounts}

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self):
        return iter(self._by_name.values())

    def get(self, name: str) -> Account | None:
        return self._by_name.get(name)

    @property
    def learners(self) -> list[str]:
        return [a.name for a in self._by_name.values() if a.role == LEARNER]

    @property
    def instructors(self) -> list[str]:
        return [a.name for a in self._by_name.values() if a.role == INSTRUCTOR]

    def authenticate(self, name: str, password: str) -> Account | None:
        """The account when the password is right; None for an unknown user or a wrong password."""
        account = self._by_name.get(name)
        if account is None:
            # spend the same time as a real check, so an unknown name does not answer faster
            bcrypt.checkpw(b"x", _DUMMY_HASH)
            return None
        return account if password and account.verify(password) else None

    @classmethod
    def load(cls, path: Path) -> Accounts:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(Account(name, entry["role"], entry["hash"]) for name, entry in data["users"].items())
        except FileNotFoundError:
            raise LabError(f"no accounts file at {path}: this folder is not a workshop",
                           fix="labsupport workshop init --learners N --out DIR") from None
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise LabError(f"the accounts file {path} is damaged ({type(exc).__name__})",
                           fix="run labsupport workshop init again into a new folder") from None

    def save(self, path: Path) -> None:
        data = {"version": 1, "users": {a.name: {"role": a.role, "hash": a.hash} for a in self._by_name.values()}}
        write_private(path, json.dumps(data, indent=1) + "\n")


_DUMMY_HASH = bcrypt.hashpw(b"not a password", bcrypt.gensalt(rounds=BCRYPT_ROUNDS))


# -- the access policy ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Scope:
    """One requested resource: `repository:learner-01/hello-lab:pull,push` → type, name, actions."""

    type: str
    name: str
    actions: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> Scope | None:
        """A scope string as a Scope; None when it is not `type:name:actions`."""
        kind, sep, rest = text.partition(":")
        name, sep2, actions = rest.rpartition(":")
        if not (sep and sep2 and kind and name):
            return None
        kind = kind.split("(", 1)[0]          # `repository(plugin)` names a class we do not distinguish
        return cls(kind, name, tuple(a for a in actions.split(",") if a))


def parse_scopes(values: Iterable[str]) -> list[Scope]:
    """Every scope of repeated `scope` parameters, each possibly several joined by spaces; merged per resource."""
    merged: dict[tuple[str, str], list[str]] = {}
    for value in values:
        for text in value.split():
            scope = Scope.parse(text)
            if scope is None:
                continue
            actions = merged.setdefault((scope.type, scope.name), [])
            actions.extend(a for a in scope.actions if a not in actions)
    return [Scope(kind, name, tuple(actions)) for (kind, name), actions in merged.items()]


def allowed_actions(account: Account | None, scope: Scope) -> set[str]:
    """What the policy lets this account do on the scope's resource (anonymous: nothing)."""
    if account is None:
        return set()
    if account.role == INSTRUCTOR:
        return {"pull", "push", "delete", "*"}
    if scope.type != "repository":
        return set()                          # the catalog and anything else: instructors only
    if scope.name.startswith(account.name + "/"):
        return {"pull", "push", "delete"}
    if scope.name.startswith(SHARED_NAMESPACE + "/"):
        return {"pull"}
    return set()


def grant(account: Account | None, scopes: Iterable[Scope]) -> list[dict]:
    """The token's `access` claim: for each requested resource the asked actions the policy allows."""
    access = []
    for scope in scopes:
        allowed = allowed_actions(account, scope)
        granted = [a for a in scope.actions if a in allowed]
        if granted:
            access.append({"type": scope.type, "name": scope.name, "actions": granted})
    return access


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner may read (0600), atomically: a reader never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(temporary, path)
