"""Deterministic fault hooks of the stream runtime, for regression tests (never timing).

``Settings.stream_fault`` names one fault:

- ``crash:<step>:<n>`` — exit the process hard (``os._exit``, no clean-up, like SIGKILL) at
  ``step`` of the ``n``-th batch of raw records this process runs (1-based). Steps, in batch order:
  ``after-process`` (processed in memory, nothing written), ``after-outputs`` (outputs produced),
  ``after-changelog`` (state changes produced), ``after-commit`` (input offsets committed).
- ``stop:<step>:<n>`` — the process stops itself (SIGSTOP) at the same points, once, and goes on
  where it was when it gets SIGCONT: a worker paused past its session timeout (a zombie).
- ``fail:changelog:<n>`` — the ``n``-th batch's state changes are reported as not acknowledged
  (as a broker error would), once.
- ``skip:fetch:<n>`` — Faust engine: the ``n``-th raw record fetched is dropped before Faust
  sees it, once, as Faust's own fetch loop drops records around rebalances.
- ``hang:<call>:<n>`` — the ``n``-th call of a transactional producer call never returns, once,
  as librdkafka's ``send_offsets_to_transaction`` did after a single-node broker restart (docs/
  reliability.md, "Findings"). ``hang:send-offsets:<n>`` hangs before anything is sent (the
  transaction cannot have committed); ``hang:commit:<n>`` commits, then never returns (the
  answer is lost: the worker cannot know the transaction committed). ``hang:seek:<n>`` — the
  batch engine's ``n``-th consumer seek (a re-read batch, a resync) never returns.
- ``fatal:<call>:<n>`` — the ``n``-th ``begin`` or ``commit`` raises a fatal Kafka error, once:
  ``INVALID_TXN_STATE`` (what ``begin`` raised after an abort in the soak) or
  ``OUT_OF_ORDER_SEQUENCE_NUMBER`` (what a commit raised after a pause past the session timeout).
- ``callback:flush:<n>`` — the ``n``-th flush of a transaction fails as it did in soak seed 43
  (2026-12-02): a fatal error (``OUT_OF_ORDER_SEQUENCE_NUMBER``) raised by confluent-kafka in the
  flush that served it, then a delivery report served in the same call, whose callback's first
  call into the C module raised ``SystemError`` chained to it
  (``bordersync.kafka.kafka_exception``).
"""

from __future__ import annotations

import logging
import os
import signal
from dataclasses import dataclass, field

from confluent_kafka import KafkaError, KafkaException

log = logging.getLogger("bordersync.streams.faults")
CRASH_EXIT = 86
STEPS = ("after-process", "after-outputs", "after-changelog", "after-commit")
TXN_CALLS = {"hang": ("send-offsets", "commit", "seek"), "fatal": ("begin", "commit"),
             "callback": ("flush",)}
FATAL = {"begin": KafkaError.INVALID_TXN_STATE, "commit": KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER}


@dataclass
class Faults:
    kind: str = ""
    step: str = ""
    batch: int = 0
    fired: bool = False
    seen: int = 0
    calls: dict[str, int] = field(default_factory=dict)

    @staticmethod
    def parse(spec: str) -> Faults:
        if not spec:
            return Faults()
        kind, step, batch = spec.split(":")
        if (kind, step) not in {("fail", "changelog"), ("skip", "fetch")} and not (
                kind in ("crash", "stop") and step in STEPS) and step not in TXN_CALLS.get(kind, ()):
            raise ValueError(f"unknown stream fault {spec!r}")
        return Faults(kind, step, int(batch))

    def crash(self, step: str, batch: int) -> None:
        """Exit hard when the crash hook names this step of this batch; stop when the stop
        hook does."""
        if self.kind == "stop" and self.step == step and self.batch == batch and not self.fired:
            self.fired = True
            log.warning("fault hook: stopping", extra={"fields": {"step": step, "batch": batch}})
            os.kill(os.getpid(), signal.SIGSTOP)
            log.warning("fault hook: resumed", extra={"fields": {"step": step, "batch": batch}})
            return
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

    def txn_call(self, call: str) -> str:
        """Count a transactional producer call; ``"hang"`` or ``"fatal"`` once, when the hook
        names this call and count, else ``""``. A fatal hook raises here."""
        if self.kind not in TXN_CALLS or self.step != call or self.fired:
            return ""
        self.calls[call] = self.calls.get(call, 0) + 1
        if self.calls[call] != self.batch:
            return ""
        self.fired = True
        log.warning("fault hook: transactional call", extra={"fields": {
            "call": call, "n": self.batch, "fault": self.kind}})
        if self.kind == "fatal":
            raise KafkaException(KafkaError(FATAL[call], f"fault hook: {call} failed", fatal=True))
        if self.kind == "callback":
            raise SystemError("<method 'code' of 'confluent_kafka.cimpl.KafkaError' objects> "
                              "returned a result with an exception set") from KafkaException(
                KafkaError(KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER, f"fault hook: {call} failed",
                           fatal=True))
        return self.kind
