"""``streams.state.committed_offsets``: the one OffsetFetch both engines use (strict or not)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from confluent_kafka import KafkaError, KafkaException, TopicPartition

from streams.state import committed_offsets


class _Answers:
    """A consumer whose ``committed`` answers as given (the filtering is the logic under test;
    the OffsetFetch itself runs on Kafka in tests/integration)."""

    def __init__(self, answer: list[Any] | KafkaException) -> None:
        self.answer = answer
        self.asked: list[tuple[str, int]] = []

    def committed(self, partitions: list[TopicPartition], timeout: float) -> Any:
        self.asked = [(tp.topic, tp.partition) for tp in partitions]
        if isinstance(self.answer, KafkaException):
            raise self.answer
        return self.answer


def _tp(partition: int, offset: int, error: KafkaError | None = None) -> Any:
    """What ``committed`` answers per partition (a TopicPartition's ``error`` is read-only)."""
    return SimpleNamespace(topic="raw", partition=partition, offset=offset, error=error)


HELD = KafkaError(KafkaError.UNSTABLE_OFFSET_COMMIT)  # an open transaction holds the offsets


def test_committed_offsets_leave_out_partitions_without_a_commit() -> None:
    reader = _Answers([_tp(0, 12), _tp(1, -1001)])
    assert committed_offsets(reader, {("raw", 1), ("raw", 0)}) == {("raw", 0): 12}  # type: ignore[arg-type]
    assert reader.asked == [("raw", 0), ("raw", 1)]


def test_committed_offsets_strict_give_nothing_when_one_partition_answers_an_error() -> None:
    answer = [_tp(0, 12), _tp(1, -1001, HELD)]
    assert committed_offsets(_Answers(answer), [("raw", 0), ("raw", 1)]) is None  # type: ignore[arg-type]
    assert committed_offsets(_Answers(answer), [("raw", 0), ("raw", 1)],  # type: ignore[arg-type]
                             strict=False) == {("raw", 0): 12}


def test_committed_offsets_unknown_when_the_fetch_fails() -> None:
    down = KafkaException(KafkaError(KafkaError._TIMED_OUT))
    assert committed_offsets(_Answers(down), [("raw", 0)], strict=False) is None  # type: ignore[arg-type]


def test_committed_offsets_of_nothing_ask_nothing() -> None:
    reader = _Answers(KafkaException(KafkaError(KafkaError._TIMED_OUT)))
    assert committed_offsets(reader, []) == {}  # type: ignore[arg-type]
