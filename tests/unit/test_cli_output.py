"""``-o json|table``: JSON lines that carry what the contract's ``--json`` forms carry."""

from __future__ import annotations

import json

import pytest

from bordersync import cli


def _out(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert cli.main(argv) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("command", ["crossings", "agencies"])
def test_json_lines_are_the_contract_array_one_per_line(
        command: str, capsys: pytest.CaptureFixture[str]) -> None:
    array = json.loads(_out([command, "--json"], capsys))
    lines = [json.loads(line) for line in _out([command, "-o", "json"], capsys).splitlines()]
    assert lines == array
    table = _out([command, "-o", "table"], capsys)
    assert table == _out([command], capsys) and len(table.splitlines()) == len(array)


def test_schemas_check_as_one_json_object(capsys: pytest.CaptureFixture[str]) -> None:
    (line,) = _out(["schemas", "check", "-o", "json"], capsys).splitlines()
    report = json.loads(line)
    assert report["ok"] is True and report["problems"] == [] and report["notes"]


def test_every_reporting_command_documented_with_o_takes_it() -> None:
    """docs/cli.md lists the commands on ``-o``; each parses ``-o json`` and ``-o table``."""
    for argv in (["crossings"], ["agencies"], ["topics", "create"], ["dev", "status"],
                 ["schemas", "check"], ["lag"], ["dlq", "replay"]):
        for fmt in ("json", "table"):
            assert cli.build_parser().parse_args([*argv, "-o", fmt]).output == fmt
