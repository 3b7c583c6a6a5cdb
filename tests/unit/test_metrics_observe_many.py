"""``streams.metrics.observe_many`` against the client's own ``Histogram.observe``."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Histogram

from streams import metrics
from streams.tally import Tally

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600)
values = st.lists(st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([*BUCKETS, 0.0, -0.0, -1.0]),  # exactly on a bound: that bucket, as observe
), max_size=60)


def _samples(histogram: Histogram) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for metric in histogram.collect() for s in metric.samples
            if not s.name.endswith("_created")}


def _pair() -> tuple[Histogram, Histogram]:
    return tuple(Histogram("h", "h", ["stream"], buckets=BUCKETS, registry=CollectorRegistry())
                 for _ in range(2))  # type: ignore[return-value]


@given(values)
def test_observe_many_equals_observe_one_by_one(observed: list[float]) -> None:
    one, many = _pair()
    child = one.labels("crossings")
    for value in observed:
        child.observe(value)
    metrics.observe_many(many.labels("crossings"), observed)
    expected, got = _samples(one), _samples(many)
    assert expected.keys() == got.keys()
    for key, value in expected.items():
        if key[0].endswith("_sum"):
            assert got[key] == value or math.isclose(got[key], value, rel_tol=1e-9) or (
                math.isnan(value) and math.isnan(got[key]))
        else:
            assert got[key] == value, key


def test_apply_groups_observations_by_metric_and_labels() -> None:
    tally = Tally()
    before = {k: v for k, v in _samples(metrics.TRANSIT).items()}
    for value in (45.0, 45.0, 700.0):
        tally.observe("transit", value, "test-crossing-a")
    tally.observe("transit", 20.0, "test-crossing-b")
    metrics.apply(tally)
    after = _samples(metrics.TRANSIT)

    def grew(name: str, crossing: str, **extra: str) -> float:
        key = (name, tuple(sorted({"crossing": crossing, **extra}.items())))
        return after[key] - before.get(key, 0.0)

    assert grew("bordersync_transit_seconds_count", "test-crossing-a") == 3
    assert grew("bordersync_transit_seconds_bucket", "test-crossing-a", le="60.0") == 2
    assert grew("bordersync_transit_seconds_bucket", "test-crossing-a", le="900.0") == 3
    assert grew("bordersync_transit_seconds_sum", "test-crossing-a") == 790.0
    assert grew("bordersync_transit_seconds_bucket", "test-crossing-b", le="30.0") == 1


def test_observe_many_on_a_labelled_parent_raises_as_observe_does() -> None:
    parent, _ = _pair()
    try:
        parent.observe(1.0)
    except ValueError as exc:
        expected = str(exc)
    try:
        metrics.observe_many(parent, [1.0])
    except ValueError as exc:
        assert str(exc) == expected
    else:
        raise AssertionError("observe_many accepted a parent histogram")
