"""Issue #15, terminal side: a row the broker can never take must not block the terminal, and an
outbox must not wait for the next ``publish`` to be delivered.

Before the fix one oversized row made ``produce()`` raise an error the sender did not handle: it
started over from the oldest row forever, every later row of the terminal waited, and
``bordersync_outbox_failed_total`` never moved (``BordersyncOutboxFailing`` never fired). The rows
here are put into the outbox directly, as an older terminal version (without size limits) stored
them — a deterministic hook, no timing.
"""

from __future__ import annotations

import json
import signal
import time
import urllib.request
from pathlib import Path

from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]
from prometheus_client import REGISTRY

from bordersync.kafka import admin_conf
from bordersync.settings import Settings
from producers.outbox import Outbox, OutboxRecord, outbox_path
from producers.sdk import to_record
from producers.sender import Sender
from tests.conftest import Proc, run_cli, wait_for
from tests.helpers import crossing
from tests.integration.test_outbox_broker import read_event_ids


def _valid(settings: Settings, n: int) -> OutboxRecord:
    from bordersync.border import load_border_config
    from bordersync.events import validate

    event = validate(crossing(event_id=f"ok-{n}", plate=f"SK {1000 + n} AB"),
                     load_border_config(settings.border_config))
    return to_record(event, settings)


def _failed(terminal: str) -> float:
    return REGISTRY.get_sample_value("bordersync_outbox_failed_total", {"terminal": terminal}) or 0.0


def test_oversized_row_is_moved_aside_and_the_rows_behind_it_flow(settings: Settings) -> None:
    terminal = "poison-big"
    box = Outbox(outbox_path(settings, terminal), terminal=terminal)
    big = OutboxRecord("too-big", settings.topic("raw"), b"SK1AB", b"x" * 2_000_000, [])
    box.append([_valid(settings, 0), big, *(_valid(settings, n) for n in range(1, 6))])
    failed_before = _failed(terminal)
    sender = Sender(box, settings, terminal).start()
    try:
        wait_for(lambda: box.refresh_depth() == 0, 60, "the rows behind the poison row delivered")
        assert [p.event_id for p in box.poisoned()] == ["too-big"]
        assert "MSG_SIZE_TOO_LARGE" in box.poisoned()[0].error
        # Counted as a failure: the existing BordersyncOutboxFailing rule sees it.
        assert _failed(terminal) > failed_before
        assert REGISTRY.get_sample_value("bordersync_outbox_poisoned_total",
                                         {"terminal": terminal}) == 1.0
    finally:
        stats = sender.close(10)
        box.close()
    assert stats.poisoned == 1 and stats.remaining == 0
    assert sorted(set(read_event_ids(settings, expect=6))) == sorted(f"ok-{n}" for n in range(6))

    # Kept and listed; `outbox requeue` puts it back (it is refused again: still too large).
    listed = run_cli(["outbox", "poisoned", "--terminal", terminal], settings)
    assert listed.returncode == 0 and json.loads(listed.stdout)["event_id"] == "too-big"
    status = json.loads(run_cli(["outbox", "status", "--terminal", terminal], settings).stdout)
    assert status["poisoned"] == 1 and status["depth"] == 0 and "MSG_SIZE" in status["last_error"]
    requeued = run_cli(["outbox", "requeue", "--terminal", terminal], settings)
    assert json.loads(requeued.stdout) == {"requeued": 1, "depth": 1}
    drained = run_cli(["outbox", "drain", "--terminal", terminal, "--timeout", "20"], settings)
    assert json.loads(drained.stdout)["poisoned"] == 1 and drained.returncode == 0


def test_row_the_broker_refuses_is_moved_aside(settings: Settings) -> None:
    """librdkafka accepts the record, the broker answers MESSAGE_TOO_LARGE (topic limit)."""
    small = settings.topic("small-records")
    admin = AdminClient(admin_conf(settings))
    for future in admin.create_topics([NewTopic(small, 1, -1, config={
            "max.message.bytes": "2000"})]).values():
        future.result(30)
    terminal = "poison-refused"
    box = Outbox(outbox_path(settings, terminal), terminal=terminal)
    box.append([_valid(settings, 0), OutboxRecord("refused", small, b"K", b"y" * 20_000, []),
                _valid(settings, 1)])
    sender = Sender(box, settings, terminal).start()
    try:
        wait_for(lambda: box.refresh_depth() == 0, 90, "the row behind the refused one delivered")
        assert [p.event_id for p in box.poisoned()] == ["refused"]
    finally:
        sender.close(10)
        box.close()
    assert set(read_event_ids(settings, expect=2)) == {"ok-0", "ok-1"}


def test_outbox_serve_delivers_what_publish_queues_and_stops_cleanly(
        settings: Settings, tmp_path: Path) -> None:
    serve = Proc(["outbox", "serve", "--terminal", "booth", "--metrics-port", "0"], settings,
                 tmp_path / "serve.log")
    try:
        wait_for(lambda: '"serving"' in serve.output(), 30, "serve started")
        port = json.loads(next(line for line in serve.output().splitlines()
                                if '"serving"' in line))["metrics_port"]
        events = tmp_path / "events.jsonl"
        events.write_text("".join(json.dumps(crossing(event_id=f"s-{n}", plate=f"SK {2000 + n} AB"))
                                  + "\n" for n in range(20)))
        # The sender lock is serve's: publish only appends, and returns at once.
        done = run_cli(["publish", "--file", str(events), "--terminal", "booth", "--timeout", "1"],
                       settings)
        assert done.returncode == 0, done.stderr
        assert "running sender" in done.stderr
        assert set(read_event_ids(settings, expect=20)) == {f"s-{n}" for n in range(20)}
        wait_for(lambda: 'bordersync_outbox_depth{terminal="booth"} 0.0' in urllib.request.urlopen(
            f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode(), 10, "depth 0 exported")
        serve.popen.send_signal(signal.SIGTERM)
        started = time.monotonic()
        assert serve.popen.wait(30) == 0
        assert time.monotonic() - started < 15
        stopped = json.loads(serve.output().splitlines()[-1])
        assert stopped["stopped"] == "booth" and stopped["queued"] == 0
        assert stopped["delivered"] == 20
    finally:
        serve.stop()
