"""The outbox on disk and the SDK's acceptance rules (no broker: nothing is sent here)."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from bordersync.events import InvalidEvent
from bordersync.security.keys import KeyStore, KeyStoreError
from bordersync.security.signing import Rejected, Verified, verify
from bordersync.settings import Settings
from bordersync.wire import codec
from producers.outbox import Outbox, OutboxBusy, OutboxFull, OutboxRecord
from producers.sdk import Terminal
from tests.helpers import crossing


def _rec(n: int) -> OutboxRecord:
    return OutboxRecord(f"e{n}", "raw", b"SK1234AB", b"{}", [("event_id", f"e{n}".encode())])


def test_rows_survive_reopen_in_order_and_leave_only_when_removed(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    box = Outbox(path)
    box.append([_rec(n) for n in range(5)])
    box.close()
    box = Outbox(path)
    assert box.depth() == 5
    rows = box.after(0, 10)
    assert [r.event_id for _, r in rows] == ["e0", "e1", "e2", "e3", "e4"]
    assert rows[0][1].headers == [("event_id", b"e0")]
    assert box.remove([rows[0][0], rows[2][0]]) == 2
    assert box.event_ids() == ["e1", "e3", "e4"]
    assert [r.event_id for _, r in box.after(rows[2][0], 10)] == ["e3", "e4"]
    box.close()


def test_bound_refuses_a_whole_batch_and_stores_nothing_of_it(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "t.db", max_rows=3)
    box.append([_rec(1), _rec(2)])
    with pytest.raises(OutboxFull, match=r"holds 2 undelivered events \(limit 3\)"):
        box.append([_rec(3), _rec(4)])
    assert box.event_ids() == ["e1", "e2"]
    box.append([_rec(3)])
    assert box.depth() == 3
    box.close()


def test_one_process_per_outbox(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "t.db")
    with pytest.raises(OutboxBusy, match="in use by another process"):
        Outbox(tmp_path / "t.db")
    box.close()
    Outbox(tmp_path / "t.db").close()


def test_terminal_validates_before_accepting(tmp_path: Path) -> None:
    term = Terminal(Settings(home=tmp_path), "mk-tab-1", admin="MK", post="MKTAB01", send=False)
    try:
        event_id = term.record_crossing(direction="EXIT", plate="SK 1234 AB", nationality="MK",
                                        vehicle_type="TRUCK", gross_mass_kg=21_000)
        with pytest.raises(InvalidEvent, match="direction: unknown code 'OUT'"):
            term.record_crossing(direction="OUT", plate="SK 1", nationality="MK",
                                 vehicle_type="CAR")
        with pytest.raises(InvalidEvent, match="does not belong to administration 'AL'"):
            term.submit(crossing(admin="AL"))
        [(_, stored)] = term.outbox.after(0, 10)
        assert stored.event_id == event_id and stored.key == b"SK1234AB"
        record = codec.decode("raw", stored.value)
        assert isinstance(record, dict) and record["terminal_id"] == "mk-tab-1"
        assert record["plate"] == "SK 1234 AB"
    finally:
        term.close()
    assert (tmp_path / "outbox" / "mk-tab-1.db").exists()


def test_terminal_bound_and_wrong_post(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, outbox_max_rows=2)
    with pytest.raises(ValueError, match="not a post of administration"):
        Terminal(settings, "x", admin="AL", post="MKTAB01", send=False)
    term = Terminal(settings, "x", admin="MK", post="MKTAB01", send=False)
    try:
        term.submit_many([crossing(event_id="a"), crossing(event_id="b")])
        with pytest.raises(OutboxFull):
            term.submit(crossing(event_id="c"))
        assert term.outbox.event_ids() == ["a", "b"]
    finally:
        term.close()


def test_records_are_signed_when_the_host_has_a_key(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    store = KeyStore.from_settings(settings)
    store.generate("MK")
    term = Terminal(settings, "signed", admin="MK", post="MKTAB01", send=False)
    try:
        term.record_crossing(direction="EXIT", plate="SK 1234 AB", nationality="MK",
                             vehicle_type="CAR")
        term.submit(crossing(admin="AL", post="ALQTH01", event_id="al-1"))  # AL: no key here
        (_, mk), (_, al) = term.outbox.after(0, 10)
        assert isinstance(verify(mk.value, mk.key, mk.headers, store.trust(), admin="MK"),
                          Verified)
        assert isinstance(verify(al.value, al.key, al.headers, store.trust(), admin="AL"),
                          Rejected)
    finally:
        term.close()
    required = Terminal(Settings(home=tmp_path, require_signatures=True), "req", send=False)
    try:
        with pytest.raises(KeyStoreError, match="no active signing key for AL"):
            required.submit(crossing(admin="AL", post="ALQTH01"))
        assert required.depth() == 0
    finally:
        required.close()


def test_outbox_metrics(tmp_path: Path) -> None:
    def sample(name: str) -> float:
        return REGISTRY.get_sample_value(name, {"terminal": "metered"}) or 0.0

    before = sample("bordersync_outbox_accepted_total")
    term = Terminal(Settings(home=tmp_path), "metered", admin="MK", post="MKTAB01", send=False)
    try:
        term.submit_many([crossing(event_id="m1"), crossing(event_id="m2")])
        assert sample("bordersync_outbox_accepted_total") == before + 2
        assert sample("bordersync_outbox_depth") == 2
    finally:
        term.close()
    for name in ("bordersync_outbox_oldest_age_seconds", "bordersync_outbox_delivered_total",
                 "bordersync_outbox_failed_total", "bordersync_publish_rejected_total"):
        assert any(m.name == name.removesuffix("_total") for m in REGISTRY.collect()), name
