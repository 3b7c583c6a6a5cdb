"""The terminal's durable outbox: accepted means on disk; removed only after the broker acked it.

One SQLite file per terminal (WAL, ``synchronous=FULL``). Rows are sent in insertion order by an
idempotent producer keyed by normalised plate, so one vehicle's events stay in order.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

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
"""


class OutboxFull(RuntimeError):
    """The outbox reached its bound; the terminal must stop accepting until it drains."""


@dataclass(frozen=True)
class OutboxRecord:
    event_id: str
    topic: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, str | bytes | None]]


@dataclass(frozen=True)
class DrainResult:
    delivered: int
    failed: int
    remaining: int
    last_error: str | None


class Outbox:
    def __init__(self, path: Path, max_rows: int = 1_000_000) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_rows = max_rows
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def append(self, records: Sequence[OutboxRecord]) -> None:
        """Durably store ``records`` (one transaction); raises ``OutboxFull`` before storing any."""
        if not records:
            return
        now = time.time()
        with self._lock:
            depth = self._depth_locked()
            if depth + len(records) > self.max_rows:
                raise OutboxFull(
                    f"outbox {self.path} holds {depth} undelivered events (limit {self.max_rows}); "
                    "the broker is unreachable or too slow — nothing was accepted from this batch"
                )
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT INTO outbox(event_id, topic, key, value, headers, accepted_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        (r.event_id, r.topic, r.key, r.value, _dump_headers(r.headers), now)
                        for r in records
                    ],
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def depth(self) -> int:
        with self._lock:
            return self._depth_locked()

    def _depth_locked(self) -> int:
        row = self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()
        return int(row[0])

    def oldest_age_seconds(self) -> float:
        with self._lock:
            row = self._db.execute("SELECT MIN(accepted_at) FROM outbox").fetchone()
        return 0.0 if row[0] is None else max(0.0, time.time() - float(row[0]))

    def pending(self, limit: int) -> list[tuple[int, OutboxRecord]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, event_id, topic, key, value, headers FROM outbox ORDER BY seq LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            (seq, OutboxRecord(eid, topic, key, value, _load_headers(headers)))
            for seq, eid, topic, key, value, headers in rows
        ]

    def remove(self, seqs: Iterable[int]) -> None:
        ids = [(s,) for s in seqs]
        if not ids:
            return
        with self._lock:
            self._db.executemany("DELETE FROM outbox WHERE seq = ?", ids)

    def drain(self, producer: Producer, timeout: float, batch: int = 5000) -> DrainResult:
        """Send everything pending; rows leave only on a successful delivery report."""
        deadline = time.monotonic() + timeout
        delivered = failed = 0
        last_error: str | None = None
        while time.monotonic() < deadline:
            rows = self.pending(batch)
            if not rows:
                break
            done: list[int] = []
            errors: list[str] = []
            for seq, rec in rows:
                while True:
                    try:
                        producer.produce(rec.topic, rec.value, rec.key, headers=list(rec.headers),
                                         on_delivery=_reporter(seq, done, errors))
                        break
                    except BufferError:
                        producer.poll(0.05)
            remaining_time = max(0.1, deadline - time.monotonic())
            producer.flush(remaining_time)
            self.remove(done)
            delivered += len(done)
            failed += len(errors)
            if errors:
                last_error = errors[-1]
            if len(done) < len(rows):
                # Broker unreachable or slow: keep the rest for the next attempt.
                time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
        return DrainResult(delivered, failed, self.depth(), last_error)


def _reporter(seq: int, done: list[int], errors: list[str]) -> Any:
    def _cb(err: KafkaError | None, _msg: Message) -> None:
        if err is None:
            done.append(seq)
        else:
            errors.append(str(err))

    return _cb


def _dump_headers(headers: list[tuple[str, str | bytes | None]]) -> str:
    def text(v: str | bytes | None) -> str | None:
        return v.decode("latin-1") if isinstance(v, bytes) else v

    return json.dumps([[k, text(v)] for k, v in headers])


def _load_headers(text: str) -> list[tuple[str, str | bytes | None]]:
    return [(k, None if v is None else v.encode("latin-1")) for k, v in json.loads(text)]
