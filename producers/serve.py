"""``bordersync outbox serve``: the long-running sender of one terminal's outbox.

Without it, rows that ``publish`` could not deliver before its ``--timeout`` (broker away, a slow
link) wait on disk until the next ``publish`` or a manual ``outbox drain``. ``serve`` holds the
outbox's sender lock and delivers whatever is appended — ``publish --terminal NAME`` then only
appends (SQLite serialises the writers) — exposes ``/metrics`` (depth, oldest age, failures,
poison rows) and stops cleanly on SIGTERM / SIGINT: it keeps sending for up to ``--grace``
seconds, then leaves the rest on disk for the next start. A systemd unit for a terminal host is
``deploy/systemd/bordersync-outbox@.service``.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from types import FrameType
from typing import TextIO

from bordersync.settings import Settings
from producers import metrics
from producers.outbox import Outbox, outbox_path
from producers.sender import Sender


def serve(settings: Settings, terminal: str, *, metrics_port: int | None, grace: float,
          out: TextIO = sys.stderr, stop: threading.Event | None = None) -> int:
    """Deliver until ``stop`` is set (SIGTERM/SIGINT set it); exit code 0 on a clean stop.

    Raises ``OutboxBusy`` when another process holds the outbox's sender lock."""
    stop = stop or threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
    outbox = Outbox(outbox_path(settings, terminal), settings.outbox_max_rows, terminal=terminal)
    metrics.OUTBOX_POISON_ROWS.labels(terminal).set(len(outbox.poisoned()))
    port = None
    if metrics_port is not None:
        from bordersync.metrics import serve as serve_metrics

        port = serve_metrics(metrics_port, role="outbox-serve")
    sender = Sender(outbox, settings, terminal).start()
    print(json.dumps({"serving": terminal, "path": str(outbox.path), "depth": outbox.depth(),
                      "metrics_port": port}), file=out, flush=True)
    try:
        while not stop.wait(1.0):
            pass
    finally:
        stats = sender.close(grace)
        outbox.close()
        print(json.dumps({"stopped": terminal, "delivered": stats.delivered,
                          "queued": stats.remaining, "failed_attempts": stats.failed,
                          "poisoned": stats.poisoned, "last_error": stats.last_error}),
              file=out, flush=True)
    return 0
