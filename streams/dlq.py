"""Dead-letter records: the original bytes plus headers that say what went wrong and where.

Header names follow Kafka Streams' dead letter queue (KIP-1034, ``ExceptionHandlerUtils``):
``__streams.errors.exception`` (the error's class), ``__streams.errors.message``,
``__streams.errors.topic`` / ``.partition`` / ``.offset`` (where the record was read), so tools
written for Kafka Streams or Connect DLQs read ours. KIP-1034 also writes a stack trace; ours are
verdicts on a record (it does not decode, validate or verify), not crashes, so there is none.
Our worker stage travels as ``__bordersync.errors.stage`` (not in the Kafka namespace, which is
Kafka's to extend).

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
# Legacy names (before issue #14), still written and read.
LEGACY = {MESSAGE: "dlq.error", STAGE: "dlq.stage", TOPIC: "dlq.source.topic",
          PARTITION: "dlq.source.partition", OFFSET: "dlq.source.offset"}
# Header families a DLQ adds; a replay strips them so the re-published record is the original.
PREFIXES = ("__streams.errors.", "__bordersync.errors.", "dlq.")
# The error class each worker stage stands for (the KIP-1034 exception header).
EXCEPTIONS = {
    "decode": "bordersync.codec.DecodeError",
    "validate": "bordersync.events.InvalidEvent",
    "signature": "bordersync.signing.Rejected",
    "replay": "bordersync.signing.Rejected",
    "encode": "bordersync.codec.EncodeError",
}


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
        (EXCEPTION, EXCEPTIONS.get(stage, "Exception").encode()),
        (MESSAGE, error.encode()),
        (TOPIC, topic.encode()),
        (PARTITION, str(partition).encode()),
        (OFFSET, str(offset).encode()),
        (STAGE, stage.encode()),
    ]
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
        if name in LEGACY or name == EXCEPTION:
            found[name] = text
        elif name in legacy:
            found.setdefault(legacy[name], text)
    return found
