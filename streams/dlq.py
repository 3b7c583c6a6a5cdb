"""Dead-letter records: the original bytes plus headers that say what went wrong and where."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DeadLetter:
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]


def dead_letter(
    *, key: bytes | None, value: bytes | None, original_headers: list[tuple[str, bytes]] | None,
    error: str, stage: str, topic: str, partition: int, offset: int,
) -> DeadLetter:
    headers = list(original_headers or [])
    headers += [
        ("dlq.error", error.encode()),
        ("dlq.stage", stage.encode()),
        ("dlq.source.topic", topic.encode()),
        ("dlq.source.partition", str(partition).encode()),
        ("dlq.source.offset", str(offset).encode()),
    ]
    return DeadLetter(key, value, headers)
