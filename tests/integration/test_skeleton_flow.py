"""The first end-to-end path: publish -> raw -> Faust worker -> crossings -> tail."""

from __future__ import annotations

import json
from collections.abc import Callable

from bordersync.settings import Settings
from bordersync.topics import create_topics
from tests.conftest import Proc, run_cli
from tests.helpers import crossing, inspection


def test_topics_create_is_idempotent(settings: Settings) -> None:
    again = create_topics(settings)
    assert again and all(state == "exists" for _, state in again)
    names = {t for t, _ in again}
    assert settings.topic("share.al-customs") in names
    assert settings.topic("dlq") in names


def test_crossings_and_agencies_json(settings: Settings) -> None:
    crossings = json.loads(run_cli(["crossings", "--json"], settings).stdout)
    assert {"id", "name", "sides", "window_minutes"} <= set(crossings[0])
    agencies = json.loads(run_cli(["agencies", "--json"], settings).stdout)
    police = next(a for a in agencies if a["name"] == "mk-border-police")
    assert "inspections" not in police["streams"]


def test_publish_worker_tail(settings: Settings, spawn: Callable[..., Proc]) -> None:
    lines = [
        json.dumps(crossing(event_id="e1")),
        "{broken",
        json.dumps(crossing(event_id="e2", admin="AL")),  # post belongs to MK
        json.dumps(inspection(event_id="i1")),
        json.dumps(crossing(event_id="e3", admin="AL", post="ALQTH01", direction="ENTRY")),
    ]
    published = run_cli(["publish", "--file", "-"], settings, stdin="\n".join(lines) + "\n")
    assert published.returncode == 2, published.stderr
    assert "line 2: not valid JSON" in published.stderr
    assert "line 3: post: post 'MKKJF01' does not belong to administration 'AL'" in published.stderr
    assert '"delivered": 3' in published.stderr

    worker = spawn(["streams", "worker"], settings)
    tailed = run_cli(["tail", "crossings", "--json", "--from-beginning", "--idle-timeout", "20"],
                     settings, timeout=180)
    assert worker.popen.poll() is None, worker.output()
    records = [json.loads(line) for line in tailed.stdout.splitlines()]
    assert sorted(r["event_id"] for r in records) == ["e1", "e3"]
    assert records[0]["event_time"].endswith("Z")
