"""Workshop accounts and the access policy: names, rosters, passwords, bcrypt, and who may do what."""

from __future__ import annotations

import json
import re

import pytest

from labsupport.errors import LabError
from labsupport.workshop.accounts import (
    INSTRUCTOR,
    LEARNER,
    Account,
    Accounts,
    Scope,
    allowed_actions,
    check_name,
    grant,
    hash_password,
    new_password,
    numbered_learners,
    parse_scopes,
    roster_learners,
)

FAST = 4  # bcrypt rounds for tests that only need a real hash, not a slow one


@pytest.fixture(scope="module")
def accounts() -> Accounts:
    return Accounts([Account("ada", LEARNER, hash_password("ada-pw-123456", FAST)),
                     Account("bob", LEARNER, hash_password("bob-pw-123456", FAST)),
                     Account("teach", INSTRUCTOR, hash_password("teach-pw-1234", FAST))])


def test_names_must_be_registry_namespaces():
    assert check_name("learner-07") == "learner-07"
    for bad in ("", "Ada", "a b", "-ada", "ada-", "a/b", "x" * 65):
        with pytest.raises(LabError, match="not a valid learner name") as info:
            check_name(bad)
        assert "lowercase" in info.value.fix


def test_numbered_learners():
    assert numbered_learners(3) == ["learner-01", "learner-02", "learner-03"]
    assert numbered_learners(120)[-1] == "learner-120" and numbered_learners(120)[0] == "learner-001"
    with pytest.raises(LabError, match="between 1 and 999"):
        numbered_learners(0)


def test_roster_with_a_header_column_and_real_names():
    text = "email,Name\nada@example.org,Ada Lovelace\n\nbob@example.org,  Bob  \n"
    assert roster_learners(text) == ["ada-lovelace", "bob"]


def test_roster_without_header_uses_the_first_column():
    assert roster_learners("ada\nbob,extra\n") == ["ada", "bob"]


def test_roster_mistakes_are_clear():
    with pytest.raises(LabError, match="line 3 .* and line 2 both become learner 'ada-l'"):
        roster_learners("learner\nAda L\nADA  L\n")
    with pytest.raises(LabError, match="names no learner"):
        roster_learners("\n\n")
    with pytest.raises(LabError, match="names no learner"):
        roster_learners("learner\n,\n")


def test_passwords_are_random_long_and_unambiguous():
    made = {new_password() for _ in range(50)}
    assert len(made) == 50
    for password in made:
        assert re.fullmatch(r"[a-hjkmnp-z2-9]{4}(-[a-hjkmnp-z2-9]{4}){3}", password), password


def test_authenticate_right_wrong_unknown(accounts):
    assert accounts.authenticate("ada", "ada-pw-123456").name == "ada"
    assert accounts.authenticate("ada", "bob-pw-123456") is None
    assert accounts.authenticate("ada", "") is None
    assert accounts.authenticate("nobody", "ada-pw-123456") is None
    assert accounts.learners == ["ada", "bob"] and accounts.instructors == ["teach"]


def test_accounts_file_holds_hashes_only(accounts, tmp_path):
    path = tmp_path / "server" / "accounts.json"
    accounts.save(path)
    text = path.read_text()
    assert "ada-pw-123456" not in text and "$2b$" in text
    assert path.stat().st_mode & 0o777 == 0o600
    again = Accounts.load(path)
    assert again.authenticate("bob", "bob-pw-123456") is not None
    assert "$2b$" not in repr(again.get("bob"))


def test_a_damaged_or_missing_accounts_file_is_a_clear_error(tmp_path):
    with pytest.raises(LabError, match="not a workshop"):
        Accounts.load(tmp_path / "nope.json")
    broken = tmp_path / "accounts.json"
    broken.write_text(json.dumps({"users": {"ada": {"role": "learner"}}}))
    with pytest.raises(LabError, match="damaged"):
        Accounts.load(broken)


# -- the policy ---------------------------------------------------------------------------------------------

def test_scopes_parse_repeat_and_merge():
    scopes = parse_scopes(["repository:ada/app:pull", "repository:ada/app:push repository:shared/base:pull",
                           "registry:catalog:*", "nonsense", "repository(plugin):ada/p:pull"])
    assert scopes == [Scope("repository", "ada/app", ("pull", "push")),
                      Scope("repository", "shared/base", ("pull",)),
                      Scope("registry", "catalog", ("*",)), Scope("repository", "ada/p", ("pull",))]
    assert Scope.parse("repository:localhost:5000/x:pull") == Scope("repository", "localhost:5000/x", ("pull",))


@pytest.mark.parametrize(("user", "scope", "expected"), [
    ("ada", "repository:ada/app:pull,push,delete", {"pull", "push", "delete"}),
    ("ada", "repository:ada/deep/name:push", {"pull", "push", "delete"}),
    ("ada", "repository:bob/app:pull,push", set()),
    ("ada", "repository:adam/app:pull", set()),          # a prefix of another name is not the namespace
    ("ada", "repository:ada:pull", set()),               # the bare name is not inside the namespace
    ("ada", "repository:shared/base:pull,push", {"pull"}),
    ("ada", "registry:catalog:*", set()),
    ("teach", "registry:catalog:*", {"pull", "push", "delete", "*"}),
    ("teach", "repository:bob/app:pull,push", {"pull", "push", "delete", "*"}),
])
def test_policy(accounts, user, scope, expected):
    assert allowed_actions(accounts.get(user), Scope.parse(scope)) == expected


def test_grant_is_the_intersection_and_anonymous_gets_nothing(accounts):
    asked = parse_scopes(["repository:ada/app:push,pull", "repository:bob/app:pull",
                          "repository:shared/b:push,pull"])
    assert grant(accounts.get("ada"), asked) == [
        {"type": "repository", "name": "ada/app", "actions": ["push", "pull"]},
        {"type": "repository", "name": "shared/b", "actions": ["pull"]}]
    assert grant(None, asked) == []
    assert grant(accounts.get("teach"), parse_scopes(["registry:catalog:*"])) == [
        {"type": "registry", "name": "catalog", "actions": ["*"]}]
