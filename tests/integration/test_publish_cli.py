"""``bordersync publish`` and ``bordersync simulate`` against the real broker."""

from __future__ import annotations

import io
import json
from pathlib import Path

from bordersync.settings import Settings
from producers.outbox import Outbox
from producers.publish import publish
from tests.conftest import run_cli
from tests.helpers import crossing
from tests.integration.test_outbox_broker import read_event_ids
from tooling.stack import free_port


def test_malformed_lines_are_reported_and_good_ones_delivered(
    settings: Settings, tmp_path: Path,
) -> None:
    events, truth_path = tmp_path / "events.jsonl", tmp_path / "truth.json"
    made = run_cli(["simulate", "--seed", "3", "--vehicles", "120", "--invalid", "4",
                    "--out", str(events), "--truth", str(truth_path)], settings)
    assert made.returncode == 0, made.stderr
    truth = json.loads(truth_path.read_text())
    bad_lines = [b["line"] for b in truth["invalid_lines"]]
    assert len(bad_lines) == 4

    published = run_cli(["publish", "--file", str(events)], settings)
    assert published.returncode == 2, published.stderr
    reported = [int(line.split(":")[0].split()[1])
                for line in published.stderr.splitlines() if line.startswith("line ")]
    assert reported == bad_lines
    summary = json.loads(published.stderr.splitlines()[-1])
    assert summary == {"accepted": truth["events"], "rejected": 4,
                       "delivered": truth["events"], "queued": 0}

    lines = events.read_text().splitlines()
    good = [json.loads(lines[i])["event_id"] for i in range(len(lines)) if i + 1 not in bad_lines]
    delivered = read_event_ids(settings, expect=len(set(good)))
    assert sorted(delivered) == sorted(good)  # resends are separate records; none lost or added


def test_all_valid_exits_zero(settings: Settings, tmp_path: Path) -> None:
    made = run_cli(["simulate", "--seed", "4", "--vehicles", "20"], settings)
    published = run_cli(["publish", "--file", "-", "--terminal", "t2"], settings, stdin=made.stdout)
    assert published.returncode == 0, published.stderr
    assert json.loads(published.stderr.splitlines()[-1])["rejected"] == 0


def test_live_mode_publishes_through_the_outbox(settings: Settings) -> None:
    live = run_cli(["simulate", "--seed", "7", "--rate", "100", "--duration", "3",
                    "--terminal", "live"], settings, timeout=60)
    assert live.returncode == 0, live.stderr
    summary = json.loads(live.stderr.splitlines()[-1])
    assert summary["accepted"] >= 200 and summary["queued"] == 0
    assert len(read_event_ids(settings, expect=1)) >= summary["accepted"]


def test_full_outbox_stops_at_a_named_line_and_keeps_what_it_accepted(tmp_path: Path) -> None:
    dead = Settings(home=tmp_path, bootstrap=f"127.0.0.1:{free_port()}")
    lines = [json.dumps(crossing(event_id=f"f{n}")) for n in range(8)]
    outbox = Outbox(tmp_path / "full.db", max_rows=5)
    err = io.StringIO()
    try:
        report = publish(lines, dead, outbox, err=err, deliver_timeout=0.5)
        assert report.accepted == 5 and report.not_accepted_from == 6
        assert outbox.event_ids() == [f"f{n}" for n in range(5)]
    finally:
        outbox.close()
