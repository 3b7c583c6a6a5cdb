"""Deterministic fault hooks of the stream runtime, for regression tests (never timing).

``Settings.stream_fault`` names one fault:

- ``crash:<step>:<n>`` — exit the process hard (``os._exit``, no clean-up, like SIGKILL) at
  ``step`` of the ``n``-th batch this process runs (1-based). Steps, in batch order:
  ``after-process`` (processed in memory, nothing written), ``after-outputs`` (outputs produced),
  ``after-changelog`` (state changes produced), ``after-commit`` (input offsets committed).
- ``fail:changelog:<n>`` — the ``n``-th batch's state changes are reported as not acknowledged
  (as a broker error would), once.
- ``skip:fetch:<n>`` — Faust engine: the ``n``-th raw record fetched is dropped before Faust
  sees it, once, as Faust's own fetch loop drops records around rebalances.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

log = logging.getLogger("bordersync.streams.faults")
CRASH_EXIT = 86
STEPS = ("after-process", "after-outputs", "after-changelog", "after-commit")


@dataclass
class Faults:
    kind: str = ""
    step: str = ""
    batch: int = 0
    fired: bool = False
    seen: int = 0

    @staticmethod
    def parse(spec: str) -> Faults:
        if not spec:
            return Faults()
        kind, step, batch = spec.split(":")
        if (kind, step) not in {("fail", "changelog"), ("skip", "fetch")} and not (
                kind == "crash" and step in STEPS):
            raise ValueError(f"unknown stream fault {spec!r}")
        return Faults(kind, step, int(batch))

    def crash(self, step: str, batch: int) -> None:
        """Exit hard when the crash hook names this step of this batch."""
        if self.kind == "crash" and self.step == step and self.batch == batch:
            log.warning("fault hook: crashing", extra={"fields": {"step": step, "batch": batch}})
            logging.shutdown()
            os._exit(CRASH_EXIT)

    def fail_changelog(self, batch: int) -> bool:
        """True once, for the batch whose changelog write the hook fails."""
        if self.kind == "fail" and self.batch == batch and not self.fired:
            self.fired = True
            return True
        return False

    def drop_fetched(self, topic: str) -> bool:
        """True once, for the ``n``-th record fetched from ``raw`` (the skip hook)."""
        if self.kind != "skip" or self.fired or not topic.endswith("raw"):
            return False
        self.seen += 1
        if self.seen == self.batch:
            self.fired = True
            log.warning("fault hook: dropping a fetched record", extra={"fields": {"n": self.seen}})
            return True
        return False
