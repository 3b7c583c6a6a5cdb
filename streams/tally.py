"""Metric increments of one processing batch, as data: the processor and its stages (rules, risk)
fill a ``Tally``; the runner applies it to Prometheus (``streams.metrics``). Its own module so the
stages need not import the processor that calls them."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Tally:
    """Metric increments of one batch, applied to Prometheus by the runner (``streams.metrics``)."""

    counts: Counter[tuple[str, tuple[str, ...]]] = field(default_factory=Counter)
    observations: list[tuple[str, tuple[str, ...], float]] = field(default_factory=list)

    def inc(self, metric: str, *labels: str, by: int = 1) -> None:
        self.counts[(metric, labels)] += by

    def observe(self, metric: str, value: float, *labels: str) -> None:
        self.observations.append((metric, labels, value))
