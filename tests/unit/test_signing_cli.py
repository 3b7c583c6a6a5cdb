"""``bordersync keys``: generate, rotate, list, export/import between two administrations, revoke."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bordersync.cli import main


def keys(capsys: pytest.CaptureFixture[str], home: Path, *args: str) -> tuple[int, str, str]:
    code = main(["keys", *args, "--home", str(home)])
    out, err = capsys.readouterr()
    return code, out, err


def test_keys_lifecycle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mk, al = tmp_path / "mk", tmp_path / "al"
    code, first, _ = keys(capsys, mk, "generate", "--admin", "MK")
    assert code == 0 and first.startswith("MK:")
    code, _, err = keys(capsys, mk, "generate", "--admin", "MK")
    assert code == 1 and "already has the active key" in err
    code, second, _ = keys(capsys, mk, "rotate", "--admin", "MK")
    assert code == 0 and second != first
    code, out, _ = keys(capsys, mk, "list", "--json")
    states = {row["kid"]: (row["state"], row["private_key"]) for row in json.loads(out)}
    assert states == {first.strip(): ("retiring", False), second.strip(): ("active", True)}

    code, exported, _ = keys(capsys, mk, "export")
    assert code == 0 and "PRIVATE" not in exported
    (tmp_path / "mk-trust.json").write_text(exported)
    code, out, _ = keys(capsys, al, "import", "--admin", "MK", "--file", str(tmp_path / "mk-trust.json"))
    assert code == 0 and out.count("updated MK:") == 2

    code, _, _ = keys(capsys, mk, "revoke", "--kid", second.strip())
    assert code == 0
    code, out, _ = keys(capsys, mk, "list")
    assert "revoked" in out
    code, _, err = keys(capsys, mk, "rotate")
    assert code == 2 and "needs --admin" in err
