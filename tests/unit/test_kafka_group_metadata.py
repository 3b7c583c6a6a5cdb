"""``bordersync.kafka.group_metadata``: the metadata of a group member another client joined,
in the format librdkafka's ``send_offsets_to_transaction`` reads. Oracle: a librdkafka
consumer's own (no broker needed: before joining it says generation -1, no member)."""

from __future__ import annotations

from confluent_kafka import Consumer

from bordersync.kafka import group_metadata
from streams.engine import member_of_group


def test_matches_a_librdkafka_consumers_metadata() -> None:
    consumer = Consumer({"group.id": "bordersync-streams", "bootstrap.servers": "127.0.0.1:1"})
    try:
        theirs = consumer.consumer_group_metadata()
    finally:
        consumer.close()
    assert group_metadata("bordersync-streams", -1, "") == theirs


def test_names_the_member_and_its_generation() -> None:
    joined = group_metadata("g", 7, "aiokafka-1-2f0c")
    assert member_of_group(joined)
    assert joined.startswith(b"CGMDv2:") and b"g\0aiokafka-1-2f0c\0" in joined
    assert int.from_bytes(joined[7:11], "little", signed=True) == 7
    assert not member_of_group(group_metadata("g", -1, ""))
    assert group_metadata("g", 3, "m", "static-1").endswith(b"static-1\0")
