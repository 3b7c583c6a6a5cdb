"""``-o json|table``: JSON lines that carry what the contract's ``--json`` forms carry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bordersync import cli, tail
from consumers import api
from consumers.commands import render_text


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
                 ["schemas", "check"], ["lag"], ["dlq", "replay"],
                 ["lookup", "--plate", "SK1"], ["risk", "profiles"], ["risk", "report"],
                 ["risk", "lists", "import"], ["outbox", "status"], ["outbox", "poisoned"],
                 ["keys", "list"], ["credentials", "list"], ["acls", "show"], ["simulate"],
                 ["publish", "--file", "-"], ["api", "audit"], ["bench"]):
        for fmt in ("json", "table"):
            assert cli.build_parser().parse_args([*argv, "-o", fmt]).output == fmt


VIEW: dict[str, Any] = {
    "plate": "SK1234AB", "agency": "al-customs", "status": "MATCHED", "crossing": "qafe-thane",
    "journey": [{"event_time": "2026-11-30T09:00:00Z", "direction": "EXIT", "admin": "MK"}],
    "latest": {"matched": None}, "risk": [], "inspections": [], "alerts": []}


class _Reader:
    def vehicle(self, plate: str) -> dict[str, Any] | None:
        return VIEW if plate == VIEW["plate"] else None


def test_lookup_json_line_is_the_contract_document(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(api, "reader_for", lambda _settings, _agency: _Reader())
    argv = ["lookup", "--plate", "sk 1234 ab", "--agency", "al-customs"]
    document = json.loads(_out([*argv, "--json"], capsys))
    (line,) = _out([*argv, "-o", "json"], capsys).splitlines()
    assert json.loads(line) == document == {**VIEW, "found": True}
    assert _out([*argv, "-o", "table"], capsys) == _out(argv, capsys) == render_text(VIEW) + "\n"
    # Not found: the JSON line says so, the reason goes to stderr, exit 1 (docs/cli.md).
    assert cli.main(["lookup", "--plate", "XX1", "--agency", "al-customs", "-o", "json"]) == 1
    out, err = capsys.readouterr()
    assert json.loads(out)["found"] is False and "no record of plate XX1" in err


def test_risk_report_json_line_is_the_contract_object(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(tail, "records", lambda *_args, **_kw: iter(()))
    obj = json.loads(_out(["risk", "report", "--json"], capsys))
    (line,) = _out(["risk", "report", "-o", "json"], capsys).splitlines()
    assert json.loads(line) == obj and obj["trips"] == 0
    assert _out(["risk", "report", "-o", "table"], capsys) == _out(["risk", "report"], capsys)


def test_outbox_status_json_by_default_and_a_table_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["outbox", "status", "--terminal", "t1", "--home", str(tmp_path)]
    (line,) = _out(argv, capsys).splitlines()
    assert json.loads(line) == json.loads(_out([*argv, "-o", "json"], capsys))
    assert json.loads(line)["depth"] == 0
    (row,) = _out([*argv, "-o", "table"], capsys).splitlines()
    assert row.startswith("terminal=t1  path=") and "  depth=0  " in row


def test_keys_json_lines_are_the_contract_array_and_actions_say_what_they_made(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = ["--home", str(tmp_path)]
    (made,) = _out(["keys", "generate", "--admin", "MK", "-o", "json", *home], capsys).splitlines()
    key = json.loads(made)
    assert key["action"] == "generated" and key["admin"] == "MK" and key["kid"].startswith("MK:")
    array = json.loads(_out(["keys", "list", "--json", *home], capsys))
    lines = _out(["keys", "list", "-o", "json", *home], capsys).splitlines()
    assert [json.loads(line) for line in lines] == array and array[0]["kid"] == key["kid"]
    assert _out(["keys", "list", "-o", "table", *home], capsys) == _out(["keys", "list", *home],
                                                                         capsys)


def test_credentials_list_and_acls_show_as_json_lines(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    listed = _out(["credentials", "list", "--dir", str(tmp_path), "-o", "json"], capsys)
    rows = [json.loads(line) for line in listed.splitlines()]
    assert {r["principal"] for r in rows} >= {"admin", "bordersync-worker"}
    assert {r["state"] for r in rows} == {"missing"}
    table = _out(["credentials", "list", "--dir", str(tmp_path), "-o", "table"], capsys)
    assert len(table.splitlines()) == len(rows)
    bindings = [json.loads(line) for line in _out(["acls", "show", "-o", "json"], capsys).splitlines()]
    assert {"principal": "bordersync-worker", "operation": "Write", "resource": "topic",
            "pattern": "literal", "name": "bordersync.dlq"} in bindings
    assert _out(["acls", "show", "-o", "table"], capsys).startswith("| principal |")


def test_simulate_summary_is_the_report_on_stdout_unless_the_events_are(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = tmp_path / "events.jsonl"
    argv = ["simulate", "--seed", "3", "--vehicles", "5", "--out", str(events)]
    (line,) = _out([*argv, "-o", "json"], capsys).splitlines()
    report = json.loads(line)
    assert report["lines"] == len(events.read_text().splitlines()) and report["pairs"] >= 1
    # --out -: stdout carries the events, the summary goes to stderr in the chosen format.
    assert cli.main(["simulate", "--seed", "3", "--vehicles", "5", "-o", "json"]) == 0
    out, err = capsys.readouterr()
    assert out == events.read_text() and json.loads(err.splitlines()[-1]) == report
    # Without -o, as always: a '#' line on stderr, nothing on stdout.
    assert _out(argv, capsys) == ""


def test_publish_summary_on_stdout_with_o(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "none.jsonl"
    empty.write_text("")
    argv = ["publish", "--file", str(empty), "--home", str(tmp_path), "--timeout", "0.1",
            "--bootstrap", "127.0.0.1:9"]  # nothing to deliver: never connects
    (line,) = _out([*argv, "-o", "json"], capsys).splitlines()
    assert json.loads(line) == {"accepted": 0, "rejected": 0, "delivered": 0, "queued": 0}
    assert cli.main(argv) == 0
    out, err = capsys.readouterr()
    assert out == "" and json.loads(err.splitlines()[-1])["accepted"] == 0
