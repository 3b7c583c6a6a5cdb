"""Terminal defects of issue #15 that need no broker: size limits at validation, and a full disk.

A list entry had no length limit, so one valid event could exceed the broker's record limit and
block its terminal's outbox (the sender side is tests/integration/test_outbox_poison.py). A full
disk surfaced as a bare ``sqlite3.OperationalError`` — or, worse, as "cannot rollback - no
transaction is active", which hid it — instead of a clear, retryable error.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bordersync.border import load_border_config
from bordersync.events import MAX_LIST_BYTES, MAX_STR, InvalidEvent, validate
from producers.outbox import Outbox, OutboxDiskFull, OutboxFull, OutboxRecord
from tests.helpers import crossing

BORDER = load_border_config()


def test_oversized_list_entry_is_rejected_naming_the_field() -> None:
    with pytest.raises(InvalidEvent) as info:
        validate(crossing(seals=["S" * (MAX_STR + 1)]), BORDER)
    assert info.value.field == "seals"
    assert f"longer than {MAX_STR} characters" in str(info.value)


def test_list_over_its_encoded_size_is_rejected_naming_the_field() -> None:
    # 64 entries of 200 four-byte characters: few enough entries, each short enough, too large.
    entries = ["\U0001F69A" * 200] * 64
    with pytest.raises(InvalidEvent) as info:
        validate(crossing(container_ids=entries), BORDER)
    assert info.value.field == "container_ids"
    assert f"more than {MAX_LIST_BYTES}" in str(info.value)


def test_largest_valid_event_stays_far_below_the_broker_limit() -> None:
    from bordersync.wire import codec

    event = validate(crossing(seals=["S" * MAX_STR] * 64, container_ids=["C" * MAX_STR] * 64,
                              declaration_ref="D" * MAX_STR, trailer_plate="T" * MAX_STR), BORDER)
    assert len(codec.encode("raw", event)) < 100_000


def _record(n: int, size: int = 2000) -> OutboxRecord:
    return OutboxRecord(f"e{n}", "t.raw", b"K", b"v" * size, [("event_id", f"e{n}".encode())])


def _fill_until_full(box: Outbox) -> tuple[int, OutboxDiskFull]:
    for n in range(100_000):
        try:
            box.append([_record(n)])
        except OutboxDiskFull as exc:
            return n, exc
    raise AssertionError("never full")


def test_disk_full_is_a_clear_error_and_nothing_is_corrupted(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "small.db", max_bytes=96 * 1024)
    try:
        stored, exc = _fill_until_full(box)
        assert stored > 5
        assert isinstance(exc, OutboxFull)  # publish waits for room on it, like a full outbox
        assert "disk is full" in str(exc) and "intact" in str(exc)
        assert box.integrity() == "ok"
        assert box.event_ids() == [f"e{n}" for n in range(stored)]
        assert box.depth() == stored
        # A batch that does not fit is refused as a whole.
        with pytest.raises(OutboxDiskFull):
            box.append([_record(stored + i) for i in range(10)])
        assert box.depth() == stored
        # Delivered rows free their pages: the outbox accepts again.
        box.remove(seq for seq, _ in box.after(0, stored // 2))
        box.append([_record(10_000)])
        assert box.integrity() == "ok"
    finally:
        box.close()
    again = Outbox(tmp_path / "small.db")
    try:
        assert again.integrity() == "ok" and again.event_ids()[-1] == "e10000"
    finally:
        again.close()


@contextlib.contextmanager
def _tmpfs(where: Path, size: str) -> Iterator[Path]:
    where.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                          capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a 1 MiB tmpfs needs root")
def test_full_filesystem_is_a_clear_error_and_nothing_is_corrupted(tmp_path: Path) -> None:
    """The same on a real 1 MiB file system: the WAL and the database both hit ENOSPC."""
    with _tmpfs(tmp_path / f"fs-{uuid.uuid4().hex[:6]}", "1m") as fs:
        box = Outbox(fs / "t.db")
        try:
            stored, exc = _fill_until_full(box)
            assert "disk is full" in str(exc)
            assert box.integrity() == "ok"
            assert box.event_ids() == [f"e{n}" for n in range(stored)]
        finally:
            box.close()
        again = Outbox(fs / "t.db")
        try:
            assert again.integrity() == "ok" and again.depth() == stored
        finally:
            again.close()
