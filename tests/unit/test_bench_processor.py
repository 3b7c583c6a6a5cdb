"""The processor figures for ``bordersync bench`` (values are not checked: figures are not tests)."""

from __future__ import annotations

import streams.processor as processor_module
from bordersync.wire import avro_share, codec
from tooling.bench import processor as bench_processor
from tooling.bench.streams import processor_figures

STAGES = ("decode", "validate", "dedup_state", "encode_outputs", "encode_shares", "other")


def test_figures_have_the_rate_and_every_stage() -> None:
    originals = (codec.decode, vars(processor_module)["validated"], avro_share.SharedEncoder.encode)
    figures = processor_figures(events=300)
    assert figures["processor_events_per_s"] > 0
    for stage in STAGES:
        assert figures[f"processor_us_per_event_{stage}"] >= 0
    # the stage clocks are gone again
    assert (codec.decode, vars(processor_module)["validated"], avro_share.SharedEncoder.encode) == originals
    assert "total" in bench_processor.table(figures)
