"""``bordersync tail``: decoded records of a logical stream as JSON lines."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, TopicPartition

from bordersync.events import format_time
from bordersync.kafka import consumer_conf
from bordersync.settings import Settings
from bordersync.wire import codec
from bordersync.wire.codec import DecodeError


def _text_or_b64(data: bytes | None) -> dict[str, str] | None:
    if data is None:
        return None
    try:
        return {"text": data.decode("utf-8")}
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(data).decode()}


def records(
    settings: Settings, stream: str, from_beginning: bool, idle_timeout: float | None,
    envelope: bool = False,
) -> Iterator[dict[str, Any]]:
    """Decoded records (the contract's ``--json``), or with ``envelope`` each in a kcat-like
    envelope: ``{topic, partition, offset, key, timestamp, headers, value}``."""
    topic = settings.topic(stream)
    consumer = Consumer(consumer_conf(settings, f"tail-{uuid.uuid4().hex[:8]}"))
    try:
        meta = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if meta is None or meta.error is not None or not meta.partitions:
            raise SystemExit(f"unknown stream {stream!r} (topic {topic} does not exist)")
        start = OFFSET_BEGINNING if from_beginning else OFFSET_END
        consumer.assign([TopicPartition(topic, p, start) for p in meta.partitions])
        last = time.monotonic()
        while True:
            batch = consumer.consume(500, timeout=0.2)
            if batch:
                last = time.monotonic()
            elif idle_timeout is not None and time.monotonic() - last >= idle_timeout:
                return
            for msg in batch:
                if msg.error():
                    continue
                yield _envelope(msg, _render(stream, msg)) if envelope else _render(stream, msg)
    finally:
        consumer.close()


def _render(stream: str, msg: Any) -> dict[str, Any]:
    headers = {k: (v.decode("utf-8", "replace") if v else None) for k, v in msg.headers() or []}
    meta = {"topic": msg.topic(), "partition": msg.partition(), "offset": msg.offset()}
    if stream == "dlq":
        return {**meta, "key": _text_or_b64(msg.key()), "headers": headers,
                "value": _text_or_b64(msg.value())}
    decoded = codec.decode(stream, msg.value())
    if isinstance(decoded, DecodeError):
        return {**meta, "error": decoded.reason, "value": _text_or_b64(msg.value())}
    return decoded


def _envelope(msg: Any, value: dict[str, Any]) -> dict[str, Any]:
    _kind, millis = msg.timestamp()
    key = msg.key()
    return {
        "topic": msg.topic(), "partition": msg.partition(), "offset": msg.offset(),
        "key": key.decode("utf-8", "replace") if key is not None else None,
        "timestamp": format_time(datetime.fromtimestamp(millis / 1000, UTC)) if millis > 0 else None,
        "headers": {k: (v.decode("utf-8", "replace") if v else None) for k, v in msg.headers() or []},
        "value": value,
    }


def table_line(record: dict[str, Any]) -> str:
    """One readable line: envelope position first when there is one, then the record's fields."""
    value = record.get("value") if "offset" in record and "value" in record else record
    where = (f"{record['topic']}[{record['partition']}]@{record['offset']}  "
             if "offset" in record else "")
    if isinstance(value, dict):
        fields = "  ".join(f"{k}={_json_default(v) if isinstance(v, datetime) else v}"
                           for k, v in value.items() if v not in (None, [], {}))
    else:
        fields = str(value)
    return where + fields


def _json_default(value: object) -> object:
    if isinstance(value, datetime):
        return format_time(value)  # decoded Avro timestamps -> ISO 8601 ...Z
    return str(value)


def dumps(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, default=_json_default)
