"""The Faust engine (BORDERSYNC_STREAM_ENGINE=faust) passes the same worker-level tests as the
default batch engine: end to end, restart with state recovery, two workers sharing the load, and the
UNMATCHED timer with statistics windows."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bordersync.settings import Settings
from tests.conftest import Proc
from tests.integration import test_streams, test_streams_workers


@pytest.fixture
def faust_settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(stream_engine="faust")


def test_faust_engine_end_to_end(faust_settings: Settings, spawn: Callable[..., Proc]) -> None:
    test_streams.test_worker_end_to_end(faust_settings, spawn)


def test_faust_engine_restart_recovers_pending_state(faust_settings: Settings,
                                                     spawn: Callable[..., Proc]) -> None:
    test_streams_workers.test_restarted_worker_recovers_pending_state(faust_settings, spawn)


def test_faust_engine_two_workers_produce_the_same_outputs_as_one(
        make_settings: Callable[..., Settings], spawn: Callable[..., Proc]) -> None:
    test_streams_workers.test_two_workers_produce_the_same_outputs_as_one(
        lambda **kw: make_settings(stream_engine="faust", **kw), spawn)


def test_faust_engine_unmatched_alert_and_stats_windows(
        make_settings: Callable[..., Settings], spawn: Callable[..., Proc]) -> None:
    test_streams.test_unmatched_alert_and_stats_windows(
        lambda **kw: make_settings(stream_engine="faust", **kw), spawn)
