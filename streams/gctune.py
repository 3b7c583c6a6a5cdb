"""Garbage-collector settings of a stream worker (and of the processor bench, to match it).

The processor allocates many short-lived objects per event and creates almost no reference
cycles; with the default gen-0 threshold (700) a collection ran every few events and took
~15-30% of the worker's CPU (measured with the processor bench, GC on vs. tuned).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

THRESHOLDS = (50_000, 20, 100)


def tune() -> None:
    gc.freeze()  # imports and configuration stay out of every later collection
    gc.set_threshold(*THRESHOLDS)


@contextmanager
def tuned() -> Iterator[None]:
    before = gc.get_threshold()
    gc.set_threshold(*THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)
