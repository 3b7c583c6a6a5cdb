"""The terminal SDK: what booth, scanner and weighbridge software calls.

    with Terminal(settings, "mk-tab-booth-1", admin="MK", post="MKTAB01") as terminal:
        event_id = terminal.record_crossing(direction="EXIT", plate="SK 1234 AB",
                                            nationality="MK", vehicle_type="TRUCK")

A call returns only once the event is validated and committed to the terminal's outbox on disk;
``InvalidEvent`` (with the reason) or ``OutboxFull`` otherwise. Delivery to Kafka happens on a
background thread and survives broker outages and process crashes (see ``producers.sender``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from bordersync.border import load_border_config
from bordersync.events import InvalidEvent, format_time, validate
from bordersync.plates import normalise_plate
from bordersync.security.keys import KeyStore, KeyStoreError
from bordersync.security.signing import Signer, sign
from bordersync.settings import Settings
from bordersync.wire import codec
from producers.outbox import Outbox, OutboxRecord, outbox_path
from producers.sender import Sender, SendStats

__all__ = ["InvalidEvent", "Signers", "Terminal", "to_record"]


class Signers:
    """This host's signing keys (docs/security.md), loaded once per administration.

    No key for an administration means its records go unsigned, unless the cluster requires
    signatures (``BORDERSYNC_REQUIRE_SIGNATURES``): then accepting fails with the key store's
    reason instead of filling the DLQ later.
    """

    def __init__(self, settings: Settings) -> None:
        self._store = KeyStore.from_settings(settings)
        self._required = settings.require_signatures
        self._cache: dict[str, Signer | None] = {}

    def headers(self, admin: str, value: bytes, key: bytes) -> list[tuple[str, bytes]]:
        if admin not in self._cache:
            try:
                self._cache[admin] = self._store.signer(admin)
            except KeyStoreError:
                if self._required:
                    raise
                self._cache[admin] = None
        signer = self._cache[admin]
        return [] if signer is None else sign(value, key, signer)


def to_record(event: Mapping[str, Any], settings: Settings,
              signers: Signers | None = None) -> OutboxRecord:
    """A validated event as the record the outbox stores: keyed by normalised plate so every
    event of one vehicle (both sides, inspections) lands on one partition, in order. Signature
    headers are stored with it, so a replay after a crash sends the same signature."""
    key = normalise_plate(event["plate"]).encode()
    value = codec.encode("raw", dict(event))
    headers: list[tuple[str, str | bytes | None]] = [
        ("event_id", str(event["event_id"]).encode()),
        ("kind", str(event["kind"]).encode()),
        ("admin", str(event["admin"]).encode()),
    ]
    if signers is not None:
        headers += signers.headers(str(event["admin"]), value, key)
    return OutboxRecord(event_id=event["event_id"], topic=settings.topic("raw"), key=key,
                        value=value, headers=headers)


class Terminal:
    """One terminal (booth, scanner, weighbridge) of one administration at one post."""

    def __init__(
        self, settings: Settings, terminal_id: str, admin: str | None = None,
        post: str | None = None, *, max_rows: int | None = None, send: bool = True,
        message_timeout_ms: int = 60_000,
    ) -> None:
        """``admin`` and ``post`` are needed by ``record_*``; gateways that forward complete
        events of many terminals (``submit``) may leave them out."""
        self.settings = settings
        self.border = load_border_config(settings.border_config)
        if admin is not None or post is not None:
            crossing = self.border.crossing_of_post(post or "")
            if crossing is None or admin is None or crossing.sides.get(admin) != post:
                raise ValueError(f"post {post!r} is not a post of administration {admin!r}")
        self.terminal_id, self.admin, self.post = terminal_id, admin, post
        self.signers = Signers(settings)
        self.outbox = Outbox(outbox_path(settings, terminal_id),
                             max_rows or settings.outbox_max_rows, terminal=terminal_id)
        self.sender: Sender | None = None
        if send:
            self.sender = Sender(self.outbox, settings, terminal_id,
                                 message_timeout_ms=message_timeout_ms).start()

    def record_crossing(
        self, *, direction: str, plate: str, nationality: str, vehicle_type: str,
        event_time: datetime | None = None, event_id: str | None = None, **optional: Any,
    ) -> str:
        """A vehicle passed this post (``EXIT`` or ``ENTRY``); returns the event id."""
        return self.submit(self._event("crossing", event_id, event_time, plate, nationality,
                                       direction=direction, vehicle_type=vehicle_type, **optional))

    def record_inspection(
        self, *, inspection_type: str, result: str, plate: str, nationality: str,
        event_time: datetime | None = None, event_id: str | None = None, **optional: Any,
    ) -> str:
        """A control result (X-ray, documents, weighbridge, ...); returns the event id."""
        return self.submit(self._event("inspection", event_id, event_time, plate, nationality,
                                       inspection_type=inspection_type, result=result, **optional))

    def submit(self, event: Mapping[str, Any]) -> str:
        """A complete contract event (any admin/post: re-publishing tools use this)."""
        return self.submit_many([event])[0]

    def submit_many(self, events: Iterable[Mapping[str, Any]]) -> list[str]:
        """Validate all, then store all in one transaction (all or nothing)."""
        records = [to_record(validate(dict(e), self.border), self.settings, self.signers)
                   for e in events]
        self.outbox.append(records)
        return [r.event_id for r in records]

    def depth(self) -> int:
        return self.outbox.depth()

    def close(self, timeout: float = 10.0) -> SendStats:
        """Deliver what can be delivered within ``timeout``; the rest waits on disk."""
        try:
            if self.sender is not None:
                return self.sender.close(timeout)
            return SendStats(0, 0, self.outbox.depth(), None)
        finally:
            self.outbox.close()

    def __enter__(self) -> Terminal:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _event(self, kind: str, event_id: str | None, event_time: datetime | None, plate: str,
               nationality: str, **fields: Any) -> dict[str, Any]:
        if self.admin is None or self.post is None:
            raise ValueError("this terminal was opened without admin/post; use submit()")
        when = event_time or datetime.now(UTC)
        if when.tzinfo is None:
            raise InvalidEvent("naive datetime; pass an aware (UTC) time", "event_time")
        return {
            "event_id": event_id or str(uuid.uuid4()), "kind": kind, "admin": self.admin,
            "post": self.post, "event_time": format_time(when), "plate": plate,
            "nationality": nationality, "terminal_id": self.terminal_id, **fields,
        }
