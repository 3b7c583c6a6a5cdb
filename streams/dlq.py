"""Dead-letter records: the original bytes plus headers that say what went wrong and where.

Header names follow Kafka Streams' dead letter queue (KIP-1034, ``ExceptionHandlerUtils``):
``__streams.errors.exception`` (the error's class), ``__streams.errors.message``,
``__streams.errors.topic`` / ``.partition`` / ``.offset`` (where the record was read), so tools
written for Kafka Streams or Connect DLQs read ours. KIP-1034 also writes a stack trace; ours are
verdicts on a record (it does not decode, validate or verify), not crashes, so there is none.
Our worker stage travels as ``__bordersync.errors.stage`` (not in the Kafka namespace, which is
Kafka's to extend).

The original record's timestamp travels as ``__bordersync.errors.timestamp`` (ms since the epoch,
decimal, like the partition and offset). Neither KIP-1034 nor Kafka Connect names a header for it:
Kafka Streams gives the dead letter the original's timestamp as its own. Ours keeps the time it
was dead-lettered as its own timestamp, because ``dlq replay --since`` selects by that and an
operator reads "when did this fail" from it; so the original time needs a header of our own. It is
left out when the original's timestamp is unknown (-1).

The earlier ``dlq.*`` headers are still written beside them (docs/records.md): dead letters
already in a DLQ and scripts reading them keep working; ``dlq replay`` reads either
(``source_headers``).
"""

from __future__ import annotations

from dataclasses import dataclass

EXCEPTION = "__streams.errors.exception"
MESSAGE = "__streams.errors.message"
TOPIC = "__streams.errors.topic"
PARTITION = "__streams.errors.partition"
OFFSET = "__streams.errors.offset"
STAGE = "__bordersync.errors.stage"
TIMESTAMP = "__bordersync.errors.timestamp"
# Legacy names (before issue #14), still written and read.
LEGACY = {MESSAGE: "dlq.error", STAGE: "dlq.stage", TOPIC: "dlq.source.topic",
          PARTITION: "dlq.source.partition", OFFSET: "dlq.source.offset"}
# Header families a DLQ adds; a replay strips them so the re-published record is the original.
PREFIXES = ("__streams.errors.", "__bordersync.errors.", "dlq.")
# The error class each worker stage stands for (the KIP-1034 exception header).
EXCEPTIONS = {
    "decode": "bordersync.wire.codec.DecodeError",
    "validate": "bordersync.events.InvalidEvent",
    "signature": "bordersync.security.signing.Rejected",
    "replay": "bordersync.security.signing.Rejected",
    "encode": "bordersync.wire.codec.EncodeError",
}


@dataclass(frozen=True)
class DeadLetter:
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]


def dead_letter(
    *, key: bytes | None, value: bytes | None, original_headers: list[tuple[str, bytes]] | None,
    error: str, stage: str, topic: str, partition: int, offset: int, timestamp: int = -1,
) -> DeadLetter:
    headers = list(original_headers or [])
    headers += [
        (EXCEPTION, EXCEPTIONS.get(stage, "Exception").encode()),
        (MESSAGE, error.encode()),
        (TOPIC, topic.encode()),
        (PARTITION, str(partition).encode()),
        (OFFSET, str(offset).encode()),
        (STAGE, stage.encode()),
    ]
    if timestamp >= 0:
        headers.append((TIMESTAMP, str(timestamp).encode()))
    headers += [
        ("dlq.error", error.encode()),
        ("dlq.stage", stage.encode()),
        ("dlq.source.topic", topic.encode()),
        ("dlq.source.partition", str(partition).encode()),
        ("dlq.source.offset", str(offset).encode()),
    ]
    return DeadLetter(key, value, headers)


def source_headers(headers: list[tuple[str, bytes]]) -> dict[str, str]:
    """The DLQ headers of a dead letter by their current names, from either naming (a letter
    written before issue #14 has only ``dlq.*``); the current name wins when both are there."""
    found: dict[str, str] = {}
    legacy = {old: new for new, old in LEGACY.items()}
    for name, value in headers:
        text = value.decode(errors="replace")
        if name in LEGACY or name in (EXCEPTION, TIMESTAMP):
            found[name] = text
        elif name in legacy:
            found.setdefault(legacy[name], text)
    return found
