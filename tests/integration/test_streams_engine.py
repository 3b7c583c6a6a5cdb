"""The batch engine (BORDERSYNC_STREAM_ENGINE=batch) passes the same worker-level tests as the
default Faust engine: end to end, restart with state recovery, two workers sharing the load, the
UNMATCHED timer with statistics windows, and joint risk management."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bordersync.settings import Settings
from tests.conftest import Proc
from tests.helpers import crossing
from tests.integration import test_risk_pipeline, test_streams, test_streams_workers
from tests.integration.streams_support import Reader, publish


@pytest.fixture
def batch_settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(stream_engine="batch")


def test_batch_engine_end_to_end(batch_settings: Settings, spawn: Callable[..., Proc]) -> None:
    test_streams.test_worker_end_to_end(batch_settings, spawn)


def test_batch_engine_restart_recovers_pending_state(batch_settings: Settings,
                                                     spawn: Callable[..., Proc]) -> None:
    test_streams_workers.test_restarted_worker_recovers_pending_state(batch_settings, spawn)


def test_batch_engine_two_workers_produce_the_same_outputs_as_one(
        make_settings: Callable[..., Settings], spawn: Callable[..., Proc]) -> None:
    test_streams_workers.test_two_workers_produce_the_same_outputs_as_one(
        lambda **kw: make_settings(stream_engine="batch", **kw), spawn)


def test_batch_engine_unmatched_alert_and_stats_windows(
        make_settings: Callable[..., Settings], spawn: Callable[..., Proc]) -> None:
    test_streams.test_unmatched_alert_and_stats_windows(
        lambda **kw: make_settings(stream_engine="batch", **kw), spawn)


def test_batch_engine_sweeps_vehicles_restored_after_a_restart(
        make_settings: Callable[..., Settings], spawn: Callable[..., Proc]) -> None:
    # Regression: the sweep only looks at vehicles its time index says are due; vehicles that
    # come back from the changelog must be indexed too, or their UNMATCHED alert never fires.
    settings = make_settings(stream_engine="batch", grace_seconds=6, sweep_interval_seconds=0.5)
    old = (datetime.now(UTC) - timedelta(hours=3)).isoformat()
    publish(settings, [crossing(event_id="lonely", plate="BG 777-XX", event_time=old)])
    reader = Reader(settings, ["crossings", "alerts"])
    try:
        worker = spawn(["streams", "worker"], settings)
        reader.wait(lambda g: len(g["crossings"]) == 1, 60, "the exit forwarded")
        assert worker.stop() == 0, worker.output()[-3000:]
        reader.poll(0.5)
        assert not reader.got["alerts"]  # stopped before its deadline
        spawn(["streams", "worker"], settings)
        got = reader.wait(lambda g: any(a["type"] == "UNMATCHED_EXIT" for a in g["alerts"]),
                          90, "UNMATCHED_EXIT after the restart")
        reader.poll(2)
    finally:
        reader.close()
    assert [a["event_ids"] for a in got["alerts"]] == [["lonely"]]


def test_batch_engine_runs_the_risk_stage(make_settings: Callable[..., Settings],
                                          spawn: Callable[..., Proc], tmp_path: Path) -> None:
    # Regression: the batch engine built its Processor without ``risk_stage(settings, border)``,
    # so with BORDERSYNC_RISK_ENABLED it assessed nothing (no ``risk`` records, no pre-arrival
    # shares) while the Faust engine did. Both now build it in the shared streams/runtime.py.
    test_risk_pipeline.test_signed_profiles_watchlist_and_pre_arrival_sharing(
        lambda **kw: make_settings(stream_engine="batch", **kw), spawn, tmp_path)
