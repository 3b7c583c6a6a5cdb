"""``bordersync.kafka.kafka_exception``: the Kafka error behind what a blocking client call raised."""

from __future__ import annotations

from confluent_kafka import KafkaError, KafkaException

from bordersync.kafka import kafka_error, kafka_exception


def _fatal() -> KafkaException:
    return KafkaException(KafkaError(KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER, "desync", fatal=True))


def test_a_kafka_exception_is_itself() -> None:
    exc = _fatal()
    assert kafka_exception(exc) is exc


def test_the_fatal_error_behind_a_delivery_callbacks_systemerror_is_found() -> None:
    # soak seed 43: SystemError raised by the callback's KafkaError.code(), chained to the fatal
    # error confluent-kafka had set in the same flush
    fatal = _fatal()
    try:
        raise SystemError("returned a result with an exception set") from fatal
    except SystemError as exc:
        found = kafka_exception(exc)
    assert found is fatal
    error = kafka_error(found)
    assert error is not None and error.fatal()
    try:  # the implicit chain (raised while handling it) too
        try:
            raise fatal
        except KafkaException:
            raise SystemError("returned a result with an exception set")  # noqa: B904
    except SystemError as exc:
        assert kafka_exception(exc) is fatal


def test_other_errors_have_no_kafka_exception() -> None:
    assert kafka_exception(SystemError("something else")) is None
    assert kafka_exception(ValueError("x")) is None
