"""`labsupport workshop …` and `labsupport join` as a terminal sees them: exit codes, messages, no secrets."""

from __future__ import annotations

import io

import pytest

from labsupport.cli import main
from labsupport.workshop.handout import read_credentials


def test_init_then_grades(tmp_path, capsys):
    out = tmp_path / "class"
    roster = tmp_path / "roster.csv"
    roster.write_text("name,email\nAda Lovelace,a@x\nAlan Turing,t@x\n")
    assert main(["workshop", "init", "--roster", str(roster), "--out", str(out), "--name", "spring",
                 "--registry-port", "6100", "--token-port", "6101", "--dashboard-port", "6102"]) == 0
    printed = capsys.readouterr().out
    assert "made workshop 'spring'" in printed and "for 2 learners" in printed and "workshop up" in printed
    rows = read_credentials((out / "handout" / "credentials.csv").read_text())
    assert [name for name, _ in rows] == ["ada-lovelace", "alan-turing"]
    assert not any(password in printed for _, password in rows)
    assert "127.0.0.1:6100/ada-lovelace/hello-lab:1.0" in (out / "handout" / "sheet.html").read_text()
    assert main(["workshop", "grades", str(out), "--csv"]) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith("ada-lovelace,0,")
    assert main(["workshop", "grades", str(out)]) == 0
    assert "exercises: 1=setup.registry" in capsys.readouterr().out


def test_mistakes_are_two_lines_not_tracebacks(tmp_path, capsys, monkeypatch):
    assert main(["workshop", "status", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "is not a workshop folder" in err and "fix: labsupport workshop init" in err
    missing = str(tmp_path / "missing.csv")
    assert main(["workshop", "init", "--roster", missing, "--out", str(tmp_path / "x")]) == 1
    assert "cannot read the roster" in capsys.readouterr().err
    assert main(["workshop", "init", "--learners", "2", "--out", str(tmp_path / "y"), "--registry-port", "6000",
                 "--token-port", "6000"]) == 1
    assert "three different ports" in capsys.readouterr().err
    assert main(["join"]) == 1
    assert "fix: labsupport join http://HOST:5502 --learner NAME" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))
    assert main(["join", "http://127.0.0.1:9", "--learner", "ada", "--password-stdin"]) == 1
    assert "no password given" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["workshop", "init", "--out", str(tmp_path / "z")])          # --learners or --roster is required
