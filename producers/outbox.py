"""The terminal's durable outbox: accepted means on disk; removed only after the broker acked it.

One SQLite file per terminal (WAL, ``synchronous=FULL``: a committed append survives SIGKILL and
power loss). Rows keep insertion order (``seq``); the sender (``producers.sender``) reads them in
that order and deletes a row only when its delivery report says it was written. A lock file held
with ``flock`` makes sure only one process sends from an outbox at a time (the kernel releases it
when the process dies, so a killed terminal can be restarted at once).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bordersync.settings import Settings
from producers import metrics

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    key BLOB,
    value BLOB NOT NULL,
    headers TEXT NOT NULL,
    accepted_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS notes (name TEXT PRIMARY KEY, value TEXT NOT NULL, at REAL NOT NULL);
"""

DEFAULT_MAX_ROWS = 1_000_000


def outbox_path(settings: Settings, terminal: str) -> Path:
    """One SQLite file per terminal under ``$BORDERSYNC_HOME/outbox``."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", terminal)
    return settings.home / "outbox" / f"{safe}.db"


class OutboxFull(RuntimeError):
    """The outbox reached its bound; nothing from the refused batch was stored."""


class OutboxBusy(RuntimeError):
    """Another process holds this outbox (two senders would deliver every event twice)."""


@dataclass(frozen=True)
class OutboxRecord:
    event_id: str
    topic: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, str | bytes | None]]


class Outbox:
    """Thread-safe: callers append while the sender thread reads and removes."""

    def __init__(self, path: Path, max_rows: int = DEFAULT_MAX_ROWS, terminal: str | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_rows = max_rows
        self.terminal = terminal or path.stem
        self._lock_fd = _lock(path.with_name(path.name + ".lock"))
        self._lock = threading.Lock()
        self.changed = threading.Event()
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        self._depth = int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])
        self._closed = False

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._db.close()
            os.close(self._lock_fd)

    @property
    def closed(self) -> bool:
        return self._closed

    def append(self, records: Sequence[OutboxRecord]) -> None:
        """Durably store ``records`` in one transaction; ``OutboxFull`` before storing any."""
        if not records:
            return
        now = time.time()
        rows = [(r.event_id, r.topic, r.key, r.value, _dump_headers(r.headers), now) for r in records]
        with self._lock:
            if self._depth + len(records) > self.max_rows:
                raise OutboxFull(
                    f"outbox {self.path} holds {self._depth} undelivered events (limit "
                    f"{self.max_rows}); the broker is unreachable or too slow — the "
                    f"{len(records)} event(s) offered were not accepted, retry later"
                )
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT INTO outbox(event_id, topic, key, value, headers, accepted_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    rows,
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._depth += len(records)
        metrics.OUTBOX_ACCEPTED.labels(self.terminal).inc(len(records))
        metrics.OUTBOX_DEPTH.labels(self.terminal).set(self._depth)
        self.changed.set()

    def depth(self) -> int:
        return self._depth

    def oldest_age_seconds(self) -> float:
        with self._lock:
            row = self._db.execute("SELECT accepted_at FROM outbox ORDER BY seq LIMIT 1").fetchone()
        return 0.0 if row is None else max(0.0, time.time() - float(row[0]))

    def after(self, seq: int, limit: int) -> list[tuple[int, OutboxRecord]]:
        """Up to ``limit`` rows with a sequence number above ``seq``, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, event_id, topic, key, value, headers FROM outbox WHERE seq > ? "
                "ORDER BY seq LIMIT ?",
                (seq, limit),
            ).fetchall()
        return [
            (s, OutboxRecord(eid, topic, key, value, _load_headers(headers)))
            for s, eid, topic, key, value, headers in rows
        ]

    def event_ids(self) -> list[str]:
        """Every undelivered event id, oldest first (inspection and tests)."""
        with self._lock:
            rows = self._db.execute("SELECT event_id FROM outbox ORDER BY seq").fetchall()
        return [r[0] for r in rows]

    def remove(self, seqs: Iterable[int]) -> int:
        ids = [(s,) for s in seqs]
        if not ids:
            return 0
        with self._lock:
            # A delete lost to a power cut only means one more (idempotent) re-send, so it
            # need not wait for fsync; the next append's FULL commit syncs it anyway.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("BEGIN IMMEDIATE")
            try:
                before = self._db.total_changes
                self._db.executemany("DELETE FROM outbox WHERE seq = ?", ids)
                removed = self._db.total_changes - before
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            finally:
                self._db.execute("PRAGMA synchronous=FULL")
            self._depth -= removed
        return removed

    def note(self, name: str, value: str) -> None:
        """Remember operational state (the last delivery error) for ``outbox status``."""
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO notes(name, value, at) VALUES (?, ?, ?)",
                             (name, value, time.time()))

    def notes(self) -> dict[str, tuple[str, float]]:
        with self._lock:
            rows = self._db.execute("SELECT name, value, at FROM notes").fetchall()
        return {name: (value, at) for name, value, at in rows}

    def oldest_attempts(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT attempts FROM outbox ORDER BY seq LIMIT 1").fetchone()
        return 0 if row is None else int(row[0])

    def mark_attempt(self, seqs: Iterable[int]) -> None:
        ids = [(s,) for s in seqs]
        if ids:
            with self._lock:
                self._db.executemany("UPDATE outbox SET attempts = attempts + 1 WHERE seq = ?", ids)


def _lock(path: Path) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise OutboxBusy(
            f"outbox {path.with_suffix('')} is in use by another process; one sender per terminal "
            "(use another --terminal name or stop the other process)"
        ) from None
    return fd


def _dump_headers(headers: list[tuple[str, str | bytes | None]]) -> str:
    def text(v: str | bytes | None) -> str | None:
        return v.decode("latin-1") if isinstance(v, bytes) else v

    return json.dumps([[k, text(v)] for k, v in headers])


def _load_headers(text: str) -> list[tuple[str, str | bytes | None]]:
    return [(k, None if v is None else v.encode("latin-1")) for k, v in json.loads(text)]
