"""Consumer lag against the real broker: every record of a multi-record batch counts."""

from __future__ import annotations

import json

from confluent_kafka import Consumer, Producer, TopicPartition

from bordersync.kafka import consumer_conf, producer_conf
from bordersync.lag import read_lag
from bordersync.settings import Settings
from tests.conftest import run_cli


def _produce_one_batch(settings: Settings, topic: str, n: int) -> None:
    producer = Producer(producer_conf(settings, **{"linger.ms": 200}))
    for i in range(n):
        producer.produce(topic, key=b"k", value=b"%d" % i, partition=0)
    assert producer.flush(30) == 0


def test_lag_counts_every_record_of_the_last_batch(settings: Settings) -> None:
    topic = settings.topic("stats")
    _produce_one_batch(settings, topic, 50)
    group = f"{settings.topic_prefix}lagtest"
    committer = Consumer(consumer_conf(settings, group))
    committer.commit(offsets=[TopicPartition(topic, 0, 10)], asynchronous=False)
    committer.close()

    rows = {r.partition: r for r in read_lag(settings, group, [topic])}
    assert rows[0].end == 50
    assert rows[0].lag == 40
    # The group commits nothing elsewhere on this topic: its other partitions are empty.
    assert sum(r.lag for r in rows.values()) == 40
    # Topics the group never committed on are not its lag.
    assert read_lag(settings, group, [settings.topic("alerts")]) == []


def test_lag_cli_prints_rows(settings: Settings) -> None:
    topic = settings.topic("stats")
    _produce_one_batch(settings, topic, 20)
    group = f"{settings.topic_prefix}lagcli"
    committer = Consumer(consumer_conf(settings, group))
    committer.commit(offsets=[TopicPartition(topic, 0, 5)], asynchronous=False)
    committer.close()
    done = run_cli(["lag", "--group", group, "--stream", "stats"], settings)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert {(r["partition"], r["lag"]) for r in rows if r["lag"]} == {(0, 15)}
