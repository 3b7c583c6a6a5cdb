"""The short fault-injection run (`make soak` is the long one): simulator traffic through two
stream workers and two agency consumers while five of them are killed with SIGKILL or SIGTERM
and restarted (kills during rebalances only in `make soak`); the history checker then finds
nothing lost and nothing duplicated. On non-convergence the soak prints where the missing events
sit (per-partition ends, group commits, assignments: bordersync/soakdiag.py).

In `make test` the run uses the batch engine (5 of 5 clean runs, 2026-11-26). The same run on the
Faust engine is `pytest -m soak` only: since the commit fix in streams/transport.py it passed 7
runs in a row, then once processed re-read records out of order (docs/reliability.md, "What is
left")."""

from __future__ import annotations

import io
import json
from collections.abc import Callable

import pytest

from bordersync.settings import Settings
from bordersync.soak import soak


def _short_run(settings: Settings) -> None:
    out = io.StringIO()
    report = soak(settings, seed=5, vehicles=400, faults=5, settle=60, out=out,
                  rebalance_share=0.0)
    print(out.getvalue())
    print(json.dumps(report))
    assert report["faults"] == 5
    assert report["accepted"] > 0
    assert report["lost"] == 0, report["examples"]
    assert report["duplicated"] == 0, report["examples"]
    assert report["matched_found"] == report["matched_expected"], report["examples"]
    assert report["alerts_missing"] == 0 and report["alerts_extra"] == 0, report["examples"]
    assert report["readmodel_missing"] == 0, report["examples"]
    assert report["ok"]


# Seed 5: both workers, a consumer, SIGKILL and SIGTERM. No kills in the middle of a rebalance
# here (each fault waits until its victim's group is stable): on Tansu 0.6 a member killed with a
# JoinGroup pending can stay in the group (docs/reliability.md); `make soak` keeps such kills.
# Short grace and sweep so UNMATCHED alerts are due within the run (the truth uses the same).


def test_short_fault_run_loses_and_duplicates_nothing(
        make_settings: Callable[..., Settings]) -> None:
    _short_run(make_settings(stream_engine="batch", grace_seconds=10, sweep_interval_seconds=1.0))


@pytest.mark.soak
def test_short_fault_run_on_the_faust_engine(make_settings: Callable[..., Settings]) -> None:
    _short_run(make_settings(stream_engine="faust", grace_seconds=10, sweep_interval_seconds=1.0))
