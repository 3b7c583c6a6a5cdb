"""``bordersync publish``: validate JSON lines, store the valid ones durably, deliver them.

Lines stream through: valid events are committed to the outbox in batches while the sender
delivers in the background, so a large file never has to fit in memory.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TextIO

from bordersync.border import BorderConfig, load_border_config
from bordersync.events import InvalidEvent, validate
from bordersync.settings import Settings
from producers import metrics
from producers.outbox import Outbox, OutboxFull, OutboxRecord
from producers.sdk import Signers, to_record
from producers.sender import Sender, SendStats

__all__ = ["PublishReport", "parse_lines", "publish", "to_record"]

BATCH = 1000
FULL_RETRY_S = 0.2


@dataclass
class PublishReport:
    accepted: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    drain: SendStats | None = None
    # First line that could not be stored because the outbox stayed full (None: all stored).
    not_accepted_from: int | None = None


def parse_lines(
    lines: Iterable[str], border: BorderConfig
) -> Iterable[tuple[int, dict[str, Any] | InvalidEvent]]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as exc:
            yield number, InvalidEvent(f"not valid JSON: {exc}")
            continue
        except RecursionError:
            yield number, InvalidEvent("not valid JSON: nested too deeply")
            continue
        try:
            yield number, validate(obj, border)
        except InvalidEvent as exc:
            yield number, exc


def publish(
    lines: Iterable[str], settings: Settings, outbox: Outbox, err: TextIO = sys.stderr,
    deliver_timeout: float = 30.0,
) -> PublishReport:
    border = load_border_config(settings.border_config)
    report = PublishReport()
    signers = Signers(settings)
    # Without the sender lock another process (`outbox serve`) delivers: only append here.
    sender = Sender(outbox, settings, outbox.terminal).start() if outbox.exclusive else None
    pending: list[tuple[int, OutboxRecord]] = []
    try:
        for number, result in parse_lines(lines, border):
            if isinstance(result, InvalidEvent):
                report.rejected.append((number, str(result)))
                metrics.PUBLISH_REJECTED.inc()
                print(f"line {number}: {result}", file=err)
                continue
            pending.append((number, to_record(result, settings, signers)))
            if len(pending) >= BATCH:
                if not _store(outbox, pending, report, deliver_timeout):
                    break
                pending = []
        else:
            _store(outbox, pending, report, deliver_timeout)
    finally:
        report.drain = (sender.close(deliver_timeout) if sender is not None
                        else SendStats(0, 0, outbox.refresh_depth(), None))
    return report


def _store(outbox: Outbox, batch: list[tuple[int, OutboxRecord]], report: PublishReport,
           patience: float) -> bool:
    """Commit ``batch``; while the outbox is full, wait (up to ``patience`` s) for room."""
    i = 0
    deadline = time.monotonic() + patience
    while i < len(batch):
        room = outbox.max_rows - outbox.depth()
        if room > 0:
            chunk = batch[i:i + room]
            try:
                outbox.append([r for _, r in chunk])
            except OutboxFull:
                pass
            else:
                report.accepted += len(chunk)
                i += len(chunk)
                deadline = time.monotonic() + patience
                continue
        if time.monotonic() >= deadline:
            report.not_accepted_from = batch[i][0]
            return False
        time.sleep(FULL_RETRY_S)
    return True
