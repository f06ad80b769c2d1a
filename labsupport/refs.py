"""Parse and normalise image references as the docker CLI and the distribution reference grammar do.

Pure: no I/O. A reference reads `[host[:port]/]path[:tag][@algorithm:hex]`:

- the first path component is a host only when it holds a "." or a ":" or is exactly "localhost"
  (so `myapp:5000` is the repository `library/myapp` with the tag `5000`);
- with no host the reference points at Docker Hub, `docker.io`; `index.docker.io` is its legacy name;
- on Docker Hub a one-component name lives under `library/` (`busybox` is `docker.io/library/busybox`).

An uppercase first component is not a host here (`Foo/bar` fails as "must be lowercase"), as the
engine on this machine (20.10) decides; newer docker CLIs would read it as a host. Hosts may be an
IPv6 literal in brackets (`[::1]:5000`), as the current grammar allows.
Every failure is an `InvalidReference` whose `reason` names the part that is wrong.

This is also the one home of the name grammar (path components, repository paths, tags: config, accounts and
the registry client check names here) and of the one loopback test (`is_loopback`, `is_loopback_url`).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

from labsupport.errors import InvalidReference

DOCKER_HUB = "docker.io"
LEGACY_DOCKER_HUB = "index.docker.io"
OFFICIAL_NAMESPACE = "library"
NAME_MAX = 255

_DOMAIN_COMPONENT = r"(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])"
_HOST_RE = re.compile(rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[A-Fa-f0-9:]+\])")
_PORT_RE = re.compile(r"[0-9]+")
#: A repository path component (the distribution grammar): lowercase alphanumerics joined by `.`, `_`, `__` or
#: dashes. A repository path is such components joined by `/`; a learner's namespace is one of them.
PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
#: A tag: up to 128 letters, digits, `_`, `.` and `-`, not starting with `.` or `-`.
TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_ALGORITHM_RE = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[+._-][A-Za-z][A-Za-z0-9]*)*")
_IMAGE_ID_RE = re.compile(r"[a-f0-9]{64}")
_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_DIGEST_HEX_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}


class _Bad(ValueError):
    """Internal: one part failed; the public functions turn it into InvalidReference with the full text."""


def _check_host(host: str) -> None:
    """Reject a host that is not `name[:port]` with a DNS-like name or a bracketed IPv6 address."""
    name, port = _split_port(host)
    if not name:
        raise _Bad(f"host {host!r} has nothing before its port")
    if not _HOST_RE.fullmatch(name):
        raise _Bad(f"host {name!r} is not a valid host name (letters, digits, '-' and '.'; IPv6 in [ ])")
    if port == "":
        raise _Bad(f"host {host!r} has an empty port after ':'")
    if port is not None and not _PORT_RE.fullmatch(port):
        raise _Bad(f"port {port!r} of host {host!r} must be digits")


def _split_port(host: str) -> tuple[str, str | None]:
    """Split `name:port` (or `[v6]:port`) into name and port; port is None when there is none."""
    if host.startswith("["):
        end = host.find("]")
        rest = host[end + 1:] if end != -1 else None
        if rest == "":
            return host, None
        if rest is not None and rest.startswith(":"):
            return host[: end + 1], rest[1:]
        return host, None  # unclosed or trailing junk: the whole text fails as a host name
    name, colon, port = host.partition(":")
    return name, (port if colon else None)


def _check_repository(repository: str) -> None:
    """Reject a path with an empty component, uppercase letters, or a component off the grammar."""
    if repository.lower() != repository:
        raise _Bad(f"repository name {repository!r} must be lowercase")
    for component in repository.split("/"):
        if not component:
            raise _Bad(f"repository {repository!r} has an empty path component (two '/' in a row, "
                       "or one at an end)")
        if not PATH_COMPONENT.fullmatch(component):
            raise _Bad(f"path component {component!r} is not valid: use a-z and 0-9 joined by single "
                       "'.', '_' or '__', or by '-'")


def _check_tag(tag: str) -> None:
    """Reject a tag off the grammar `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`."""
    if not tag:
        raise _Bad("empty tag after ':'")
    if len(tag) > 128:
        raise _Bad(f"tag is {len(tag)} characters, more than 128")
    if not TAG.fullmatch(tag):
        raise _Bad(f"tag {tag!r} is not valid: letters, digits, '_', '.' and '-', "
                   "not starting with '.' or '-'")


def is_path_component(text: object) -> bool:
    """Whether text is one repository path component, such as a learner's namespace (`ada-lovelace`)."""
    return isinstance(text, str) and PATH_COMPONENT.fullmatch(text) is not None


def is_repository_path(text: object) -> bool:
    """Whether text is a repository path (`learner/hello`): path components joined by single `/`."""
    return isinstance(text, str) and all(is_path_component(part) for part in text.split("/"))


def is_tag(text: object) -> bool:
    """Whether text is a tag (`1.0`, `latest`), as a registry accepts it in a URL path."""
    return isinstance(text, str) and TAG.fullmatch(text) is not None


def _check_digest(digest: str) -> None:
    """Reject a digest that is not `algorithm:hex` with a known algorithm and its exact lowercase length."""
    if not digest:
        raise _Bad("empty digest after '@'")
    algorithm, colon, hex_part = digest.partition(":")
    if not colon or not algorithm or not hex_part:
        raise _Bad(f"digest {digest!r} must read algorithm:hex, e.g. sha256:<64 hex>")
    if not _ALGORITHM_RE.fullmatch(algorithm):
        raise _Bad(f"digest algorithm {algorithm!r} is not valid")
    expected = _DIGEST_HEX_LENGTHS.get(algorithm)
    if expected is None:
        raise _Bad(f"unsupported digest algorithm {algorithm!r} (use sha256, sha384 or sha512)")
    if len(hex_part) != expected or not re.fullmatch(r"[0-9a-f]+", hex_part):
        if not re.fullmatch(r"[0-9a-fA-F]+", hex_part):
            extra = "; it has characters other than 0-9 and a-f"
        else:
            extra = "; it has uppercase letters" if hex_part != hex_part.lower() else ""
        raise _Bad(f"{algorithm} digest must be {expected} lowercase hex characters, "
                   f"got {len(hex_part)}{extra}")


def _normal_host(host: str) -> str:
    """Docker Hub's legacy name `index.docker.io` becomes `docker.io`; every other host stays as written."""
    return DOCKER_HUB if host == LEGACY_DOCKER_HUB else host


def _normal_repository(host: str, repository: str) -> str:
    """On Docker Hub a one-component name lives under `library/`."""
    if host == DOCKER_HUB and "/" not in repository:
        return f"{OFFICIAL_NAMESPACE}/{repository}"
    return repository


@dataclass(frozen=True)
class Reference:
    """A normalised image reference: always a host and a full repository path, maybe a tag and a digest."""

    host: str
    repository: str
    tag: str | None = None
    digest: str | None = None
    explicit_host: bool = field(default=True, compare=False)  # did the text name a host?

    def __post_init__(self) -> None:
        """Validate every part and normalise Docker Hub's host and `library/`, so any instance is valid."""
        try:
            _check_host(_text_part("host", self.host))
            if not ("." in self.host or ":" in self.host or self.host == "localhost"):
                raise _Bad(f"host {self.host!r} would read back as a repository: a host holds '.' or ':' "
                           "or is localhost")
            host = _normal_host(self.host)
            _check_repository(_text_part("repository", self.repository))
            repository = _normal_repository(host, self.repository)
            if self.tag is not None:
                _check_tag(_text_part("tag", self.tag))
            if self.digest is not None:
                _check_digest(_text_part("digest", self.digest))
            name = f"{host}/{repository}"
            if len(name) > NAME_MAX:
                raise _Bad(f"name {name[:40]}… is {len(name)} characters, more than {NAME_MAX}")
        except _Bad as bad:
            raise InvalidReference(_safe_text(self.host, self.repository, self.tag, self.digest),
                                   str(bad)) from None
        object.__setattr__(self, "host", host)
        object.__setattr__(self, "repository", repository)

    @property
    def name(self) -> str:
        """host/repository, the name a registry and the Docker client key things by."""
        return f"{self.host}/{self.repository}"

    @property
    def namespace(self) -> str:
        """The first path component (`library`, `learner`), or "" for a one-component repository."""
        first, slash, _ = self.repository.partition("/")
        return first if slash else ""

    @property
    def familiar(self) -> str:
        """The short form docker prints: without `docker.io/`, and without `library/` before a single name.

        Unlike docker, `docker.io/` stays when the path's first component would read back as a host
        (`docker.io/my.org/app`), so the familiar form always parses to the same reference.
        """
        namespace, _, rest = self.repository.partition("/")
        if self.host == DOCKER_HUB and not ("." in namespace or namespace == "localhost"):
            shown = rest if namespace == OFFICIAL_NAMESPACE and "/" not in rest else self.repository
        else:
            shown = self.name
        return shown + self._suffix()

    def with_tag(self, tag: str) -> Reference:
        """The same repository (and digest, if any) under another tag; a bad tag raises InvalidReference."""
        try:
            _check_tag(_text_part("tag", tag))
        except _Bad as bad:
            raise InvalidReference(f"{self.name}:{tag}", str(bad)) from None
        return replace(self, tag=tag)

    def _suffix(self) -> str:
        """`:tag` and `@digest`, each when present."""
        return (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")

    def __str__(self) -> str:
        return self.name + self._suffix()


def _text_part(kind: str, value: object) -> str:
    """The part itself when it is text; raises _Bad for a part of another type."""
    if not isinstance(value, str):
        raise _Bad(f"{kind} must be text, got {type(value).__name__}")
    return value


def _safe_text(host: object, repository: object, tag: object, digest: object) -> str:
    """The text of a failed construction for its error message; never raises, whatever the types."""
    def shown(part: object) -> str:
        return part if isinstance(part, str) else f"<{type(part).__name__}>"
    text = f"{shown(host)}/{shown(repository)}"
    text += f":{shown(tag)}" if tag is not None else ""
    return text + (f"@{shown(digest)}" if digest is not None else "")


def _split(text: str) -> tuple[str | None, str, str | None, str | None]:  # noqa: C901 (the docker CLI's rules)
    """Cut text into (host or None, path, tag, digest) following the docker CLI's rules; raises _Bad."""
    if not text:
        raise _Bad("empty reference")
    if any(ch.isspace() for ch in text):
        raise _Bad("contains whitespace; a reference has no spaces, tabs or newlines")
    scheme = _SCHEME_RE.match(text)
    if scheme:
        raise _Bad(f"starts with the URL scheme {scheme.group(0)!r}; a reference names no scheme, drop it")
    if _IMAGE_ID_RE.fullmatch(text):
        raise _Bad("a 64-character hex string is an image id, not a repository name")
    name_tag, at, digest = text.partition("@")
    if at and "@" in digest:
        raise _Bad("more than one '@'; only the digest follows an '@'")
    if at and not digest:
        raise _Bad("empty digest after '@'")
    last_slash = name_tag.rfind("/")
    last_part = name_tag[last_slash + 1:]
    tag: str | None = None
    if ":" in last_part:
        if last_part.count(":") > 1:
            raise _Bad(f"more than one ':' in {last_part!r}; only the tag follows a ':'")
        name_tag, _, tag = name_tag.rpartition(":")
        if not tag:
            raise _Bad("empty tag after ':'")
    if not name_tag:
        raise _Bad("no repository name before the tag or digest")
    first, slash, rest = name_tag.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        return first, rest, tag, (digest if at else None)
    return None, name_tag, tag, (digest if at else None)


def parse(text: str, *, default_tag: str | None = None) -> Reference:
    """Parse a reference as docker would; default_tag fills in when neither a tag nor a digest is given."""
    if not isinstance(text, str):
        raise InvalidReference(f"<{type(text).__name__}>", f"expected text, got {type(text).__name__}")
    try:
        host, path, tag, digest = _split(text)
        if host is not None:
            _check_host(host)
        _check_repository(path)
        if tag is not None:
            _check_tag(tag)
        if digest is not None:
            _check_digest(digest)
        if tag is None and digest is None and default_tag is not None:
            _check_tag(default_tag)
            tag = default_tag
    except _Bad as bad:
        raise InvalidReference(text, str(bad)) from None
    try:
        return Reference(host or DOCKER_HUB, path, tag, digest, explicit_host=host is not None)
    except InvalidReference as error:  # only the name length is left to fail here
        raise InvalidReference(text, error.reason) from None


def format(ref: Reference) -> str:
    """The full normalised form `host/repository[:tag][@digest]`; the same as str(ref)."""
    return str(ref)


def normalise(text: str) -> str:
    """Text in, the full normalised form out: `busybox` becomes `docker.io/library/busybox`."""
    return str(parse(text))


def split_for_exercise(text: str) -> dict[str, str | None]:
    """The answer key of `registries.anatomy`: host, repository, tag and digest of one reference.

    Choices, matching what `docker pull`/`docker push` would act on:
    - host is always explicit, after normalisation (`docker.io` when the text names none);
    - repository is the full path, `library/` included on Docker Hub;
    - tag is "latest" when neither a tag nor a digest is given (docker implies it), None when only a
      digest is given (a digest pins the image, no tag is implied), and as written otherwise;
    - digest is `algorithm:hex` or None.
    """
    ref = parse(text)
    tag = ref.tag if (ref.tag is not None or ref.digest is not None) else "latest"
    return {"host": ref.host, "repository": ref.repository, "tag": tag, "digest": ref.digest}


def _host_of(value: Reference | str) -> str:
    """A Reference's host, or a host text validated and normalised; raises InvalidReference."""
    if isinstance(value, Reference):
        return value.host
    if not isinstance(value, str):
        raise InvalidReference(f"<{type(value).__name__}>", f"expected a host, got {type(value).__name__}")
    try:
        if not value:
            raise _Bad("empty host")
        _check_host(value)
    except _Bad as bad:
        raise InvalidReference(value, str(bad)) from None
    return _normal_host(value)


def same_host(a: Reference | str, b: Reference | str) -> bool:
    """Whether two references (or host texts) name the same registry key exactly as the Docker client does.

    The client keys credentials by the literal host, so `localhost:5000` and `127.0.0.1:5000` are
    different hosts here even though they reach one registry: see is_loopback_alias.
    """
    return _host_of(a) == _host_of(b)


def is_loopback(host: str) -> bool:
    """Whether a host (its port removed) reaches only this machine: `localhost` in any case, or a loopback IP
    address (127.0.0.0/8, ::1, brackets allowed), also as the IPv6-mapped `::ffff:127.x.x.x` a dual-stack socket
    reports for an IPv4 peer. One test for every caller: the proxy bypass, the workshop's public host, peers."""
    name = host.strip("[]")
    if name.lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return (mapped or address).is_loopback


def is_loopback_url(url: str) -> bool:
    """Whether an http(s) URL names a loopback host (see is_loopback), with or without a port."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return False
    return host is not None and is_loopback(host)


def is_loopback_alias(a: Reference | str, b: Reference | str) -> bool:
    """Whether two hosts differ only as loopback aliases (`localhost:5000` vs `127.0.0.1:5000`).

    Such hosts reach one registry but the Docker client stores a separate credential for each, so a
    login to one does not cover a push to the other. Identical hosts are not aliases: they do not differ.
    """
    host_a, host_b = _host_of(a), _host_of(b)
    if host_a == host_b:
        return False
    (name_a, port_a), (name_b, port_b) = _split_port(host_a), _split_port(host_b)
    return port_a == port_b and is_loopback(name_a) and is_loopback(name_b)


# -- tags that say what they are: a release, a commit ---------------------------------------------------

#: A release version as a tag: MAJOR.MINOR.PATCH with an optional pre-release (`1.2.0`, `v2.0.1-rc.1`).
SEMVER_TAG = re.compile(r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?$")
#: A git commit id as a tag: 7 to 40 lowercase hex characters (`git rev-parse --short HEAD` gives 7+).
COMMIT_TAG = re.compile(r"^[0-9a-f]{7,40}$")


def is_semver_tag(tag: str) -> bool:
    """Whether a tag reads as a full semantic version (MAJOR.MINOR.PATCH)."""
    return bool(SEMVER_TAG.fullmatch(tag))


#: How many hex characters of a commit id the course tags an image with (lesson 08, production.tags): plenty to
#: be unique within a project.
COMMIT_TAG_LENGTH = 12


def commit_tag(commit: str) -> str:
    """The tag the course makes of a full commit id: its first COMMIT_TAG_LENGTH characters, or a few more
    when those are digits only (a tag of digits reads as a version)."""
    return next((commit[:n] for n in range(COMMIT_TAG_LENGTH, len(commit) + 1) if not commit[:n].isdigit()),
                commit)


def is_commit_tag(tag: str) -> bool:
    """Whether a tag reads as a git commit id (7-40 lowercase hex); a pure-digit one is taken as a version."""
    return bool(COMMIT_TAG.fullmatch(tag)) and not tag.isdigit()
