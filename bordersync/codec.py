"""Codec entry points: logical stream + record <-> bytes.

Decoding never raises: undecodable bytes come back as a ``DecodeError`` value that the caller
routes to the DLQ (errors as data).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bordersync.events import format_time


@dataclass(frozen=True)
class DecodeError:
    stream: str
    reason: str


def _default(value: object) -> object:
    if isinstance(value, datetime):
        return format_time(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def encode(stream: str, record: dict[str, Any]) -> bytes:
    return json.dumps(record, default=_default, ensure_ascii=False, separators=(",", ":")).encode()


def decode(stream: str, data: bytes | None) -> dict[str, Any] | DecodeError:
    if data is None:
        return DecodeError(stream, "empty record (tombstone)")
    try:
        value = json.loads(data)
    except (UnicodeDecodeError, ValueError) as exc:
        return DecodeError(stream, f"not valid JSON: {exc}")
    if not isinstance(value, dict):
        return DecodeError(stream, f"expected an object, got {type(value).__name__}")
    return value
