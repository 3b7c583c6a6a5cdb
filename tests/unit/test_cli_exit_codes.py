"""Every exit code documented in docs/cli.md is what the commands return for its examples."""

from __future__ import annotations

import argparse
import re
import shutil
from pathlib import Path

import pytest

from bordersync import cli
from bordersync.settings import Settings
from tooling.stack import StackError

ROOT = Path(__file__).resolve().parents[2]


def _run(argv: list[str]) -> int:
    try:
        return cli.main(argv)
    except SystemExit as exc:  # argparse: usage errors
        return int(exc.code or 0)


def _documented() -> dict[int, str]:
    text = (ROOT / "docs" / "cli.md").read_text()
    block = text.split("<!-- exit-codes -->")[1].split("<!-- /exit-codes -->")[0]
    return {int(m[1]): m[2] for m in re.finditer(r"^\| (\d+) \|(.*)$", block, re.M)}


def _broken_schemas(tmp_path: Path) -> str:
    root = tmp_path / "avro"
    shutil.copytree(ROOT / "avro", root)
    (root / "stats" / "v9.avsc").write_text("{}")
    return str(root)


def _raising(exc: BaseException) -> object:
    def handler(_args: argparse.Namespace, _settings: Settings) -> int:
        raise exc
    return handler


# (code, the example's words in its row of docs/cli.md, argv or a handler that raises)
CASES: list[tuple[int, str, object]] = [
    (0, "`crossings --json`", ["crossings", "--json"]),
    (0, "`agencies -o json`", ["agencies", "-o", "json"]),
    (1, "`dev status` when the stack is not running", ["dev", "status", "--home", "{tmp}"]),
    (1, "`schemas check` with a problem", ["schemas", "check", "--dir", "{schemas}"]),
    (1, "the embedded stack cannot start", _raising(StackError("no java"))),
    (2, "an unknown option", ["crossings", "--bogus"]),
    (2, "`lookup --plate ''`", ["lookup", "--plate", "", "--agency", "al-customs"]),
    (2, "`lookup --agency` unknown", ["lookup", "--plate", "SK1", "--agency", "nope"]),
    (2, "`dlq replay --since` not a time", ["dlq", "replay", "--since", "yesterday"]),
    (130, "a command interrupted", _raising(KeyboardInterrupt())),
]


def test_the_table_documents_every_code_and_every_example() -> None:
    documented = _documented()
    assert set(documented) == {code for code, _, _ in CASES}
    for code, words, _ in CASES:
        assert words in documented[code], (code, words)


@pytest.mark.parametrize(("code", "words", "how"), CASES, ids=[c[1] for c in CASES])
def test_commands_return_the_documented_code(code: int, words: str, how: object,
                                             tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    if isinstance(how, list):
        argv = [a.replace("{tmp}", str(tmp_path)).replace("{schemas}", _broken_schemas(tmp_path))
                if "{" in a else a for a in how]
    else:
        monkeypatch.setattr(cli, "cmd_crossings", how)
        argv = ["crossings"]
    assert _run(argv) == code
    out, err = capsys.readouterr()
    if code:
        assert err.strip(), "a failure says why on stderr"
        if code != 130:
            assert not out.strip() or argv[:2] == ["dev", "status"], out
