"""The short soak (`make soak` is the long one), on each engine: simulator traffic, signed, through
two stream workers and a consumer per agency on a private 3-node Kafka cluster, while eight
faults break one thing each — every kind at least once: a worker, a consumer, the publishing
terminal, a Kafka node, Redis restarted, Redis wiped, a worker paused past its session timeout.
The checker compares the outputs, every share topic and every Redis read model with the
simulator's truth (tooling/soak/truth.py); a stall or a process exiting by itself fails the
run. ``redelivered`` must be 0 for an engine that claims exactly-once (the batch engine)."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest

from bordersync.settings import Settings
from tooling import stack
from tooling.faults import KINDS
from tooling.soak.run import private_settings, soak

SEED, VEHICLES, FAULTS = 5, 150, 8
# No crash is tolerated. Until issue #15's fix a batch worker exited on a Kafka transaction
# error (OUT_OF_ORDER_SEQUENCE_NUMBER in a commit after a pause past the session timeout,
# INVALID_TXN_STATE in begin() after an abort around a broker kill) and this test let that pass
# as xfail; the writer now replaces such a producer and the worker re-reads from its committed
# offsets (tests/integration/test_streams_runtime.py, fault hooks fatal:begin and fatal:commit).


def _short_run(tmp_path: Path, engine: str) -> None:
    home = tmp_path / f"soak-{engine}"
    private = private_settings(Settings(home=home), home, engine)
    out = io.StringIO()
    try:
        settings = stack.up_private(private, out)
        report = soak(settings, seed=SEED, vehicles=VEHICLES, faults=FAULTS, settle=90, out=out)
    finally:
        stack.down(private, purge=True)
        print(out.getvalue())
    examples = report.pop("examples")
    print(json.dumps(report))
    assert report["faults"] == FAULTS
    assert report["fault_kinds"] == sorted(KINDS)
    assert report["accepted"] > 0
    assert not report["stalled"], examples
    assert report["lost"] == 0, examples["lost"]
    assert report["duplicated"] == 0, examples
    assert report["matched_missing"] == report["matched_extra"] == 0, examples["matched_missing"]
    assert report["alerts_missing"] == 0 and report["alerts_extra"] == 0, examples
    assert report["share_wrong"] == 0, examples["share_wrong"]
    assert report["readmodel_wrong"] == 0, examples["readmodel_wrong"]
    assert report["exactly_once"]  # both engines, by default
    assert report["redelivered"] == 0, examples["redelivered"]
    assert report["crashes"] == 0, examples["crashes"]
    assert report["ok"]
    shutil.rmtree(home, ignore_errors=True)


@pytest.mark.parametrize("engine", ["faust", "batch"])
def test_short_soak_every_kind_of_fault(tmp_path: Path, engine: str) -> None:
    _short_run(tmp_path, engine)
