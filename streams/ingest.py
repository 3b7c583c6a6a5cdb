"""Skeleton processor: validate raw terminal events and forward them by kind.

Later stages (deduplication, matching, sharing) replace the body; the DLQ routing stays.
"""

from __future__ import annotations

from typing import Any

from faust.types import StreamT

from bordersync import codec
from bordersync.border import load_border_config
from bordersync.codec import DecodeError
from bordersync.events import InvalidEvent, validate
from bordersync.plates import normalise_plate
from bordersync.settings import Settings
from streams.app import BorderApp
from streams.dlq import dead_letter


def register(app: BorderApp, settings: Settings) -> None:
    border = load_border_config(settings.border_config)
    raw = app.topic(settings.topic("raw"), key_serializer="raw", value_serializer="raw")
    out = {
        kind: app.topic(settings.topic(stream), key_serializer="raw", value_serializer="raw")
        for kind, stream in (("crossing", "crossings"), ("inspection", "inspections"))
    }
    dlq = app.topic(settings.topic("dlq"), key_serializer="raw", value_serializer="raw")

    @app.agent(raw, name="ingest")
    async def ingest(stream: StreamT[Any]) -> None:
        async for event in stream.events():
            msg = event.message
            decoded = codec.decode("raw", msg.value)
            error: str | None = None
            stage = "decode"
            if isinstance(decoded, DecodeError):
                error = decoded.reason
            else:
                try:
                    record = validate(decoded, border)
                except InvalidEvent as exc:
                    error, stage = f"event {decoded.get('event_id')!r}: {exc}", "validate"
            if error is not None:
                letter = dead_letter(
                    key=msg.key, value=msg.value, original_headers=list(msg.headers or []),
                    error=error, stage=stage, topic=msg.topic, partition=msg.partition,
                    offset=msg.offset,
                )
                await dlq.send(key=letter.key, value=letter.value, headers=letter.headers)
                continue
            key = normalise_plate(record["plate"]).encode()
            await out[record["kind"]].send(key=key, value=codec.encode(record["kind"], record))
