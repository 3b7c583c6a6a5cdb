"""The terminal's durable outbox: accepted means on disk; removed only after the broker acked it.

One SQLite file per terminal (WAL, ``synchronous=FULL``: a committed append survives SIGKILL and
power loss). Rows keep insertion order (``seq``); the sender (``producers.sender``) reads them in
that order and deletes a row only when its delivery report says it was written. A lock file held
with ``flock`` makes sure only one process sends from an outbox at a time (the kernel releases it
when the process dies, so a killed terminal can be restarted at once). Appending needs no lock
(SQLite serialises writers), so ``publish`` can queue rows while ``outbox serve`` sends them.

A row the broker can never take (too large, rejected as invalid) is a *poison* row: the sender
moves it to the ``poison`` table (kept, counted, ``outbox requeue`` puts it back) so the rows
behind it flow; otherwise one such row would hold back every later event of the terminal.
A full disk is ``OutboxDiskFull`` (nothing of the batch stored, nothing corrupted), not a bare
``sqlite3.OperationalError``.
"""

from __future__ import annotations

import contextlib
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
CREATE TABLE IF NOT EXISTS poison (
    seq INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    key BLOB,
    value BLOB NOT NULL,
    headers TEXT NOT NULL,
    accepted_at REAL NOT NULL,
    attempts INTEGER NOT NULL,
    error TEXT NOT NULL,
    poisoned_at REAL NOT NULL
);
"""

DEFAULT_MAX_ROWS = 1_000_000


def outbox_path(settings: Settings, terminal: str) -> Path:
    """One SQLite file per terminal under ``$BORDERSYNC_HOME/outbox``."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", terminal)
    return settings.home / "outbox" / f"{safe}.db"


class OutboxFull(RuntimeError):
    """The outbox reached its bound; nothing from the refused batch was stored."""


class OutboxDiskFull(OutboxFull):
    """The file system (or the file's size limit) is full; the refused batch was not stored and
    the outbox is intact. Delivered rows free pages, so waiting for room helps like for
    ``OutboxFull``."""


class OutboxBusy(RuntimeError):
    """Another process holds this outbox (two senders would deliver every event twice)."""


@dataclass(frozen=True)
class PoisonRow:
    """A row moved aside because the broker can never accept it (``error`` says why)."""

    seq: int
    event_id: str
    size: int
    error: str
    accepted_at: float
    poisoned_at: float


@dataclass(frozen=True)
class OutboxRecord:
    event_id: str
    topic: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, str | bytes | None]]


class Outbox:
    """Thread-safe: callers append while the sender thread reads and removes."""

    def __init__(self, path: Path, max_rows: int = DEFAULT_MAX_ROWS, terminal: str | None = None,
                 *, exclusive: bool = True, max_bytes: int | None = None) -> None:
        """``exclusive``: take the sender lock (``OutboxBusy`` if another process has it);
        without it the outbox may only be appended to (``publish`` beside ``outbox serve``).
        ``max_bytes``: a size limit of the file (SQLite's ``max_page_count``); reaching it is
        ``OutboxDiskFull``, exactly like a full file system."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_rows = max_rows
        self.terminal = terminal or path.stem
        self.exclusive = exclusive
        self._lock_fd = _lock(path.with_name(path.name + ".lock")) if exclusive else None
        self._lock = threading.Lock()
        self.changed = threading.Event()
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False,
                                   timeout=30.0)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(SCHEMA)
            if max_bytes is not None:
                page = int(self._db.execute("PRAGMA page_size").fetchone()[0])
                self._db.execute(f"PRAGMA max_page_count={max(1, max_bytes // page)}")
        except sqlite3.OperationalError as exc:
            self._release()
            if _is_full(exc):
                raise _disk_full(path, exc, 0) from exc
            raise
        self._depth = self._count()
        self._closed = False

    def _count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def _release(self) -> None:
        self._db.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._release()

    def refresh_depth(self) -> int:
        """Recount: another process may append (``publish`` beside ``outbox serve``)."""
        with self._lock:
            if not self._closed:
                self._depth = self._count()
            return self._depth

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
                self._depth = self._count()  # another process may have delivered meanwhile
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
            except sqlite3.OperationalError as exc:
                self._rollback()
                if _is_full(exc):
                    raise _disk_full(self.path, exc, len(records)) from exc
                raise
            except BaseException:
                self._rollback()
                raise
            self._depth += len(records)
        metrics.OUTBOX_ACCEPTED.labels(self.terminal).inc(len(records))
        metrics.OUTBOX_DEPTH.labels(self.terminal).set(self._depth)
        self.changed.set()

    def _rollback(self) -> None:
        # SQLite rolls back by itself on SQLITE_FULL; a second ROLLBACK would raise "no
        # transaction is active" and hide the real error.
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")

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
                self._rollback()
                raise
            finally:
                self._db.execute("PRAGMA synchronous=FULL")
            self._depth = max(0, self._depth - removed)
        return removed

    def poison(self, seq: int, error: str) -> bool:
        """Move row ``seq`` aside (kept in ``poison``); False if it is no longer in the outbox."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                moved = self._db.execute(
                    "INSERT INTO poison(seq, event_id, topic, key, value, headers, accepted_at, "
                    "attempts, error, poisoned_at) SELECT seq, event_id, topic, key, value, "
                    "headers, accepted_at, attempts + 1, ?, ? FROM outbox WHERE seq = ?",
                    (error[:1000], time.time(), seq)).rowcount
                self._db.execute("DELETE FROM outbox WHERE seq = ?", (seq,))
                self._db.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise
            if moved:
                self._depth = max(0, self._depth - 1)
        return bool(moved)

    def poisoned(self) -> list[PoisonRow]:
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, event_id, length(value), error, accepted_at, poisoned_at FROM poison "
                "ORDER BY seq").fetchall()
        return [PoisonRow(int(s), str(e), int(n), str(err), float(a), float(p))
                for s, e, n, err, a, p in rows]

    def requeue(self, seqs: Iterable[int] | None = None) -> int:
        """Put poison rows (all, or ``seqs``) back at the end of the outbox for another try —
        after the cause was fixed (e.g. the topic's ``max.message.bytes`` raised)."""
        where, params = "", tuple[int, ...]()
        wanted = None if seqs is None else sorted(set(seqs))
        if wanted is not None:
            where = f" WHERE seq IN ({','.join('?' * len(wanted))})"
            params = tuple(wanted)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                moved = self._db.execute(
                    "INSERT INTO outbox(event_id, topic, key, value, headers, accepted_at) "
                    f"SELECT event_id, topic, key, value, headers, accepted_at FROM poison{where} "
                    "ORDER BY seq", params).rowcount
                self._db.execute(f"DELETE FROM poison{where}", params)
                self._db.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise
            self._depth += moved
        if moved:
            self.changed.set()
        return int(moved)

    def integrity(self) -> str:
        """SQLite's ``PRAGMA integrity_check`` verdict (``ok`` when intact)."""
        with self._lock:
            return str(self._db.execute("PRAGMA integrity_check").fetchone()[0])

    def note(self, name: str, value: str) -> None:
        """Remember operational state (the last delivery error) for ``outbox status``."""
        with self._lock, contextlib.suppress(sqlite3.OperationalError):  # best effort (disk full)
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
            with self._lock, contextlib.suppress(sqlite3.OperationalError):  # a counter only
                self._db.executemany("UPDATE outbox SET attempts = attempts + 1 WHERE seq = ?", ids)


def _is_full(exc: sqlite3.OperationalError) -> bool:
    return "full" in str(exc).lower() or getattr(exc, "sqlite_errorcode", None) == 13


def _disk_full(path: Path, exc: sqlite3.OperationalError, offered: int) -> OutboxDiskFull:
    return OutboxDiskFull(
        f"outbox {path}: the disk is full ({exc}); the {offered} event(s) offered were not "
        "accepted and the outbox is intact — free space (delivered events free it too) and retry"
    )


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
