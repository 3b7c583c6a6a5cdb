"""``streams.state._end_offset``: which watermark-query errors the restore waits out."""

from __future__ import annotations

import time
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from streams import state


class Probe:
    """Answers the watermark queries from a script: an error to raise, or the watermarks."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)

    def get_watermark_offsets(self, tp: TopicPartition, timeout: float,
                              cached: bool) -> tuple[int, int]:
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[no-any-return]


def failed(code: int) -> KafkaException:
    return KafkaException(KafkaError(code, "scripted"))


def test_restore_failed_when_a_watermark_query_timed_out_during_a_broker_outage(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Soak seed 33: a Faust worker was assigned partitions while the leader of one changelog
    # partition was down; the restore's first query timed out and the worker crashed.
    monkeypatch.setattr(time, "sleep", lambda _s: None)
    probe = Probe(failed(KafkaError._TIMED_OUT), failed(KafkaError._TRANSPORT), (0, 42))
    assert state._end_offset(probe, TopicPartition("changelog", 0)) == 42  # type: ignore[arg-type]


def test_other_errors_still_raise() -> None:
    probe = Probe(failed(KafkaError.TOPIC_AUTHORIZATION_FAILED))
    with pytest.raises(KafkaException):
        state._end_offset(probe, TopicPartition("changelog", 0))  # type: ignore[arg-type]
