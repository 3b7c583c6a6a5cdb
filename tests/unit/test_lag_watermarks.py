"""`bordersync lag` against partitions whose leader is being elected (a topic just created, a
broker restarting): ListOffsets answers NOT_LEADER_FOR_PARTITION for a moment, and
librdkafka's get_watermark_offsets does not retry it."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from bordersync import lag


class _Electing:
    """A consumer whose ListOffsets fails ``failures`` times with ``code``, then answers."""

    def __init__(self, failures: int, code: int) -> None:
        self.failures, self.code, self.calls = failures, code, 0

    def get_watermark_offsets(self, tp: TopicPartition, timeout: float) -> tuple[int, int]:
        self.calls += 1
        if self.calls <= self.failures:
            raise KafkaException(KafkaError(self.code))
        return 0, 50


def test_lag_failed_while_a_new_topic_elected_its_leaders(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "sleep", lambda _s: None)
    consumer = _Electing(3, KafkaError.NOT_LEADER_FOR_PARTITION)
    assert lag._watermarks(consumer, TopicPartition("t", 1)) == (0, 50)
    assert consumer.calls == 4


def test_lag_still_fails_on_other_errors_and_on_a_leader_that_never_comes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "sleep", lambda _s: None)
    with pytest.raises(KafkaException):
        lag._watermarks(_Electing(1, KafkaError.TOPIC_AUTHORIZATION_FAILED), TopicPartition("t", 0))
    never = _Electing(100, KafkaError.LEADER_NOT_AVAILABLE)
    with pytest.raises(KafkaException):
        lag._watermarks(never, TopicPartition("t", 0))
    assert never.calls == lag._MARK_ATTEMPTS
