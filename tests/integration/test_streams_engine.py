"""The batch engine (BORDERSYNC_STREAM_ENGINE=batch) passes the same worker-level tests as the
default Faust engine: end to end, restart with state recovery, two workers sharing the load, and the
UNMATCHED timer with statistics windows."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bordersync.settings import Settings
from tests.conftest import Proc
from tests.integration import test_streams, test_streams_workers


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
