"""Unit tests of labsupport.refs: the docker reference grammar, its defaults, and its error reasons."""

from __future__ import annotations

import dataclasses
import string

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from labsupport import refs
from labsupport.errors import InvalidReference, LabError
from labsupport.refs import Reference

SHA = "sha256:" + "0123456789abcdef" * 4
SHA512 = "sha512:" + "fedcba9876543210" * 8

# text, host, repository, tag, digest, explicit_host, familiar
VALID = [
    ("busybox", "docker.io", "library/busybox", None, None, False, "busybox"),
    ("busybox:1.35", "docker.io", "library/busybox", "1.35", None, False, "busybox:1.35"),
    ("myapp:5000", "docker.io", "library/myapp", "5000", None, False, "myapp:5000"),
    ("learner/hello-lab:1.0", "docker.io", "learner/hello-lab", "1.0", None, False, "learner/hello-lab:1.0"),
    ("docker.io/busybox", "docker.io", "library/busybox", None, None, True, "busybox"),
    ("index.docker.io/library/busybox:latest", "docker.io", "library/busybox", "latest", None, True,
     "busybox:latest"),
    ("docker.io/library/foo/bar", "docker.io", "library/foo/bar", None, None, True, "library/foo/bar"),
    ("localhost/app", "localhost", "app", None, None, True, "localhost/app"),
    ("localhost:5000", "docker.io", "library/localhost", "5000", None, False, "localhost:5000"),
    ("localhost:5000/learner/hello-lab:1.0", "localhost:5000", "learner/hello-lab", "1.0", None, True,
     "localhost:5000/learner/hello-lab:1.0"),
    (f"localhost:5000/a/b:c@{SHA}", "localhost:5000", "a/b", "c", SHA, True, f"localhost:5000/a/b:c@{SHA}"),
    (f"busybox@{SHA}", "docker.io", "library/busybox", None, SHA, False, f"busybox@{SHA}"),
    (f"ghcr.io/org/team/tool@{SHA512}", "ghcr.io", "org/team/tool", None, SHA512, True,
     f"ghcr.io/org/team/tool@{SHA512}"),
    ("127.0.0.1:5000/learner/x", "127.0.0.1:5000", "learner/x", None, None, True, "127.0.0.1:5000/learner/x"),
    ("[::1]:5000/app:v1", "[::1]:5000", "app", "v1", None, True, "[::1]:5000/app:v1"),
    ("registry:5000/app", "registry:5000", "app", None, None, True, "registry:5000/app"),
    ("Example.COM/app", "Example.COM", "app", None, None, True, "Example.COM/app"),
    ("a--b/c__d/e.f_g:V_1.0-rc", "docker.io", "a--b/c__d/e.f_g", "V_1.0-rc", None, False,
     "a--b/c__d/e.f_g:V_1.0-rc"),
    ("example.com", "docker.io", "library/example.com", None, None, False, "example.com"),
    ("docker.io/my.org/app", "docker.io", "my.org/app", None, None, True, "docker.io/my.org/app"),
    ("docker.io/localhost/app", "docker.io", "localhost/app", None, None, True, "docker.io/localhost/app"),
    ("x:" + "t" * 128, "docker.io", "library/x", "t" * 128, None, False, "x:" + "t" * 128),
]

# text, fragment of the reason
INVALID = [
    ("", "empty reference"),
    ("Busybox", "must be lowercase"),
    ("Learner/hello-lab", "must be lowercase"),
    ("localhost:5000/Learner/app", "must be lowercase"),
    ("a//b", "empty path component"),
    ("learner/", "empty path component"),
    ("/app", "empty path component"),
    ("busybox:", "empty tag"),
    ("busybox:-1", "tag '-1' is not valid"),
    ("busybox:.x", "tag '.x' is not valid"),
    ("busybox:" + "t" * 129, "more than 128"),
    ("a:b:c", "more than one ':'"),
    ("busybox@", "empty digest"),
    ("busybox@sha256", "algorithm:hex"),
    ("busybox@sha256:abc", "64 lowercase hex characters, got 3"),
    ("busybox@sha256:" + "A" * 64, "uppercase"),
    ("busybox@sha256:" + "g" * 64, "other than 0-9 and a-f"),
    ("busybox@md5:" + "a" * 32, "unsupported digest algorithm 'md5'"),
    ("busybox@1sha:" + "a" * 64, "algorithm '1sha' is not valid"),
    (f"busybox@{SHA}@{SHA}", "more than one '@'"),
    ("a" * 64, "image id"),
    ("learner/" + "a" * 240, "more than 255"),
    ("busy box", "whitespace"),
    ("busybox\n", "whitespace"),
    ("http://localhost:5000/app", "URL scheme 'http://'"),
    ("https://ghcr.io/org/app:1", "URL scheme 'https://'"),
    ("localhost:/app", "empty port"),
    ("example.com:50a/app", "must be digits"),
    (":5000/app", "nothing before its port"),
    ("exa_mple.com/app", "not a valid host name"),
    ("-bad.com/app", "not a valid host name"),
    ("[::1/app", "not a valid host name"),
    ("a_/b", "path component 'a_' is not valid"),
    ("a___b", "path component 'a___b' is not valid"),
    (":latest", "no repository name"),
    (f"@{SHA}", "no repository name"),
    ("bücher", "path component"),
]


@pytest.mark.parametrize(("text", "host", "repository", "tag", "digest", "explicit", "familiar"), VALID)
def test_valid_reference_splits_like_docker(text, host, repository, tag, digest, explicit, familiar) -> None:
    ref = refs.parse(text)
    assert (ref.host, ref.repository, ref.tag, ref.digest) == (host, repository, tag, digest)
    assert ref.explicit_host is explicit
    assert ref.familiar == familiar
    assert ref.name == f"{host}/{repository}"
    suffix = (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
    assert str(ref) == refs.format(ref) == refs.normalise(text) == f"{host}/{repository}{suffix}"


@pytest.mark.parametrize(("text", "fragment"), INVALID)
def test_invalid_reference_says_why(text: str, fragment: str) -> None:
    with pytest.raises(InvalidReference) as caught:
        refs.parse(text)
    assert fragment in caught.value.reason
    assert caught.value.reference == text
    assert caught.value.fix and "sha256" in caught.value.fix
    assert isinstance(caught.value, LabError)


@pytest.mark.parametrize("value", [None, 5, b"busybox", ["busybox"], 1.5])
def test_non_text_input_raises_invalid_reference(value: object) -> None:
    with pytest.raises(InvalidReference, match="expected text"):
        refs.parse(value)  # type: ignore[arg-type]


def test_namespace_is_first_component_or_empty() -> None:
    assert refs.parse("busybox").namespace == "library"
    assert refs.parse("localhost:5000/learner/hello-lab").namespace == "learner"
    assert refs.parse("localhost:5000/app").namespace == ""


def test_default_tag_fills_only_when_neither_tag_nor_digest() -> None:
    assert refs.parse("busybox", default_tag="latest").tag == "latest"
    assert refs.parse("busybox:1.0", default_tag="latest").tag == "1.0"
    assert refs.parse(f"busybox@{SHA}", default_tag="latest").tag is None
    assert refs.parse("busybox").tag is None
    with pytest.raises(InvalidReference, match="not valid"):
        refs.parse("busybox", default_tag="-bad")


def test_with_tag_keeps_repository_and_digest_and_checks_the_tag() -> None:
    ref = refs.parse(f"localhost:5000/learner/app@{SHA}")
    tagged = ref.with_tag("1.2.0")
    assert str(tagged) == f"localhost:5000/learner/app:1.2.0@{SHA}"
    assert ref.tag is None  # the original is untouched
    with pytest.raises(InvalidReference, match="tag '1.2 0' is not valid"):
        ref.with_tag("1.2 0")
    with pytest.raises(InvalidReference, match="tag must be text"):
        ref.with_tag(3)  # type: ignore[arg-type]


def test_reference_is_frozen_and_equal_whatever_the_spelling() -> None:
    short, full = refs.parse("busybox"), refs.parse("index.docker.io/library/busybox")
    assert short == full and hash(short) == hash(full)
    assert short.explicit_host is False and full.explicit_host is True
    with pytest.raises(dataclasses.FrozenInstanceError):
        short.tag = "x"  # type: ignore[misc]


def test_constructor_normalises_and_validates() -> None:
    assert str(Reference("index.docker.io", "busybox", "1")) == "docker.io/library/busybox:1"
    assert Reference("localhost:5000", "app").repository == "app"
    with pytest.raises(InvalidReference, match="must be lowercase"):
        Reference("docker.io", "Busybox")
    with pytest.raises(InvalidReference, match="64 lowercase hex"):
        Reference("docker.io", "busybox", digest="sha256:12")
    with pytest.raises(InvalidReference, match="host must be text"):
        Reference(None, "busybox")  # type: ignore[arg-type]


def test_split_for_exercise_answer_key() -> None:
    assert refs.split_for_exercise("busybox") == {
        "host": "docker.io", "repository": "library/busybox", "tag": "latest", "digest": None}
    assert refs.split_for_exercise(f"ubuntu@{SHA}") == {
        "host": "docker.io", "repository": "library/ubuntu", "tag": None, "digest": SHA}
    assert refs.split_for_exercise("myapp:5000") == {
        "host": "docker.io", "repository": "library/myapp", "tag": "5000", "digest": None}
    assert refs.split_for_exercise(f"localhost:5000/learner/hello-lab:1.0@{SHA}") == {
        "host": "localhost:5000", "repository": "learner/hello-lab", "tag": "1.0", "digest": SHA}
    assert refs.split_for_exercise("ghcr.io/org/tool") == {
        "host": "ghcr.io", "repository": "org/tool", "tag": "latest", "digest": None}
    with pytest.raises(InvalidReference):
        refs.split_for_exercise("Not/Valid")


def test_same_host_compares_literal_keys() -> None:
    assert refs.same_host(refs.parse("busybox"), "index.docker.io")
    assert refs.same_host("localhost:5000", refs.parse("localhost:5000/learner/app"))
    assert not refs.same_host("localhost:5000", "127.0.0.1:5000")
    assert not refs.same_host("localhost:5000", "localhost:5001")
    with pytest.raises(InvalidReference, match="empty port"):
        refs.same_host("localhost:", "localhost")
    with pytest.raises(InvalidReference, match="expected a host"):
        refs.same_host(None, "localhost")  # type: ignore[arg-type]


@pytest.mark.parametrize(("a", "b", "alias"), [
    ("localhost:5000", "127.0.0.1:5000", True),
    ("127.0.0.1:5000", "[::1]:5000", True),
    ("LOCALHOST:5000", "127.0.0.2:5000", True),
    ("localhost", "127.0.0.1", True),
    ("localhost:5000", "127.0.0.1:5001", False),  # another port is another registry
    ("localhost:5000", "localhost:5000", False),  # identical hosts do not differ at all
    ("localhost:5000", "registry.example.com:5000", False),
    ("10.0.0.1:5000", "localhost:5000", False),
    ("localhost:5000", "127.0.0.1", False),
])
def test_is_loopback_alias(a: str, b: str, alias: bool) -> None:
    assert refs.is_loopback_alias(a, b) is alias
    assert refs.is_loopback_alias(b, a) is alias


def test_is_loopback_alias_takes_references() -> None:
    assert refs.is_loopback_alias(refs.parse("localhost:5000/a"), refs.parse("127.0.0.1:5000/a"))


@pytest.mark.parametrize(("host", "loopback"), [
    ("localhost", True), ("LocalHost", True), ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True),
    ("[::1]", True), ("0:0:0:0:0:0:0:1", True),
    ("::ffff:127.0.0.1", True),            # an IPv4 peer as a dual-stack socket reports it
    ("10.0.0.2", False), ("::ffff:10.0.0.2", False), ("fe80::1", False), ("a.b", False), ("", False),
    ("127.0.0.1.example.org", False),      # a name, not an address: DNS decides where it goes
    ("localhost.example.org", False), ("0.0.0.0", False),
])
def test_is_loopback(host: str, loopback: bool) -> None:
    assert refs.is_loopback(host) is loopback


@pytest.mark.parametrize(("url", "loopback"), [
    ("http://localhost:5000", True), ("https://127.0.0.1", True), ("http://[::1]:5000/", True),
    ("http://LOCALHOST:5000", True), ("http://registry:5000", False), ("https://class.example.org", False),
    ("localhost:5000", False),             # no scheme: not a URL
    ("http://[::1", False),                # not a URL either
])
def test_is_loopback_url(url: str, loopback: bool) -> None:
    assert refs.is_loopback_url(url) is loopback


@pytest.mark.parametrize(("text", "component", "path"), [
    ("ada", True, True), ("ada-lovelace", True, True), ("a.b_c__d--e", True, True),
    ("learner/hello", False, True), ("a/b/c", False, True),
    ("Ada", False, False), ("-ada", False, False), ("ada-", False, False), ("a..b", False, False),
    ("a___b", False, False), ("", False, False), ("a//b", False, False), ("/a", False, False),
    ("ada\n", False, False),                # a trailing newline is no name (a `$` anchor would let it by)
])
def test_the_name_grammar(text: str, component: bool, path: bool) -> None:
    assert refs.is_path_component(text) is component
    assert refs.is_repository_path(text) is path


@pytest.mark.parametrize(("text", "tag"), [
    ("latest", True), ("1.0", True), ("_x", True), ("A" * 128, True),
    ("A" * 129, False), (".x", False), ("-x", False), ("a b", False), ("", False), ("1.0\n", False),
])
def test_the_tag_grammar(text: str, tag: bool) -> None:
    assert refs.is_tag(text) is tag


# --- property tests -------------------------------------------------------------------------------------

_ALNUM = st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=6)
_SEPARATOR = st.sampled_from([".", "_", "__", "-", "--"])


@st.composite
def _path_component(draw: st.DrawFn) -> str:
    parts = draw(st.lists(_ALNUM, min_size=1, max_size=3))
    text = parts[0]
    for part in parts[1:]:
        text += draw(_SEPARATOR) + part
    return text


_DOMAIN_COMPONENT = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9-]{0,6}[A-Za-z0-9])?", fullmatch=True)
_PORT = st.integers(min_value=1, max_value=65535).map(str)
_HOST = st.one_of(
    st.just("localhost"),
    st.just("docker.io"),
    st.just("index.docker.io"),
    st.tuples(_DOMAIN_COMPONENT, st.lists(_DOMAIN_COMPONENT, min_size=1, max_size=3)).map(
        lambda t: ".".join([t[0], *t[1]])),
    st.tuples(_DOMAIN_COMPONENT, _PORT).map(lambda t: f"{t[0]}:{t[1]}"),
    st.sampled_from(["127.0.0.1", "[::1]", "[fe80::1]"]).flatmap(
        lambda h: st.one_of(st.just(h), _PORT.map(lambda p: f"{h}:{p}"))),
)
_TAG = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True)
_DIGEST = st.one_of(
    st.text("0123456789abcdef", min_size=64, max_size=64).map(lambda h: f"sha256:{h}"),
    st.text("0123456789abcdef", min_size=128, max_size=128).map(lambda h: f"sha512:{h}"),
)


@st.composite
def _reference_parts(draw: st.DrawFn) -> tuple[str | None, str, str | None, str | None]:
    host = draw(st.none() | _HOST)
    path = draw(st.lists(_path_component(), min_size=1, max_size=4))
    if host is None and len(path) > 1:
        assume("." not in path[0] and path[0] != "localhost")  # else the first component is a host
    return host, "/".join(path), draw(st.none() | _TAG), draw(st.none() | _DIGEST)


@given(_reference_parts())
@settings(max_examples=300)
def test_generated_references_parse_and_round_trip(parts) -> None:
    host, path, tag, digest = parts
    text = (f"{host}/" if host else "") + path + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
    ref = refs.parse(text)
    want_host = "docker.io" if host in (None, "index.docker.io") else host
    want_path = f"library/{path}" if want_host == "docker.io" and "/" not in path else path
    assert (ref.host, ref.repository, ref.tag, ref.digest) == (want_host, want_path, tag, digest)
    assert ref.explicit_host is (host is not None)
    again = refs.parse(str(ref))
    assert again == ref and str(again) == str(ref)
    assert refs.parse(ref.familiar) == ref


_REFERENCE_ALPHABET = "abcAZ019:/@.-_[]sh256 \t" + "é"


@given(st.one_of(st.text(), st.text(_REFERENCE_ALPHABET, max_size=40)))
@settings(max_examples=500)
def test_any_text_parses_or_raises_invalid_reference(text: str) -> None:
    try:
        ref = refs.parse(text)
    except InvalidReference as error:
        assert error.reason and error.reference == text
        return
    assert refs.parse(str(ref)) == ref  # whatever parses, normalises to a fixed point


@given(st.one_of(st.none(), st.integers(), st.binary(), st.lists(st.text()), st.floats()))
def test_any_non_text_raises_invalid_reference(value: object) -> None:
    with pytest.raises(InvalidReference):
        refs.parse(value)  # type: ignore[arg-type]


@given(st.one_of(st.text(max_size=12), st.none(), st.integers()),
       st.one_of(st.text(max_size=12), st.none(), st.integers()),
       st.one_of(st.text(max_size=12), st.none(), st.integers()))
def test_constructor_raises_only_invalid_reference(host: object, repository: object, tag: object) -> None:
    try:
        ref = Reference(host, repository, tag)  # type: ignore[arg-type]
    except InvalidReference:
        return
    assert refs.parse(str(ref)) == ref


# -- the course's commit tag ---------------------------------------------------------------------------------

def test_commit_tag_has_the_courses_length():
    full = "0123456789abcdef0123456789abcdef01234567"
    assert refs.commit_tag(full) == full[:refs.COMMIT_TAG_LENGTH] == "0123456789ab"
    assert refs.is_commit_tag(refs.commit_tag(full))


def test_commit_tag_of_digits_only_takes_more_characters():
    full = "123456789012345a" + "0" * 24
    assert refs.commit_tag(full) == "123456789012345a"
    assert refs.commit_tag("1" * 40) == "1" * 40
