"""The generated ACLs on the secured broker: every principal can do what its rules allow, and
nothing else — checked by real clients, not by comparing text.

For each principal and every catalogue topic, a produce and a fetch are tried and compared with
what ``bordersync.security.acl.rules`` grants (the admin, a super user, may do everything). Groups,
transactional ids and cluster operations are checked for the principals they concern.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from bordersync.border import load_border_config
from bordersync.catalogue import all_topics
from bordersync.endpoints import read_properties
from bordersync.security import acl
from tests.integration.secure.conftest import PREFIXES, SecureStack

PREFIX = PREFIXES[2]
BORDER = load_border_config()
RULES = acl.rules(BORDER, PREFIX)
TOPICS = [f"{PREFIX}{t.stream}" for t in all_topics(BORDER)]
NAMES = [p.name for p in acl.principals(BORDER)]


def granted(principal: str, operation: str, resource: str, name: str) -> bool:
    """What the rules allow; Read and Write imply Describe, as in Kafka."""
    if principal == acl.ADMIN:
        return True
    implied = {"Describe": ("Describe", "Read", "Write")}.get(operation, (operation,))
    return any(r.principal == principal and r.resource == resource and r.operation in implied
               and (r.name == name if r.pattern == "literal" else name.startswith(r.name))
               for r in RULES)


def conf(secure: SecureStack, principal: str, **extra: Any) -> dict[str, Any]:
    return {**read_properties(secure.properties(principal)), "log_level": 0, **extra}


def describable(secure: SecureStack, principal: str) -> set[str]:
    """Topics whose metadata the principal gets (no Describe: neither Read nor Write)."""
    consumer = Consumer(conf(secure, principal, **{"group.id": f"{PREFIX}probe"}))
    try:
        meta = consumer.list_topics(timeout=10).topics
        return {t for t in TOPICS if t in meta and meta[t].error is None}
    finally:
        consumer.close()


def _produce(secure: SecureStack, principal: str, topics: list[str]) -> dict[str, str | None]:
    producer = Producer(conf(secure, principal, **{"message.timeout.ms": 15000}))
    outcome: dict[str, str | None] = {}

    def report(topic: str) -> Callable[[Any, Any], None]:
        return lambda err, _msg: outcome.__setitem__(topic, None if err is None else str(err))

    for topic in topics:
        producer.produce(topic, b"acl-matrix", b"k", partition=0, on_delivery=report(topic))
    producer.flush(30)
    return outcome


def writes(secure: SecureStack, principal: str, seen: set[str]) -> dict[str, bool]:
    """Produce one record to partition 0 of every describable topic: delivered or not. A
    failure is tried once more (a delivery proves the grant; a transient error must not look
    like a denial)."""
    todo = sorted(seen)
    first = _produce(secure, principal, todo)
    again = _produce(secure, principal, [t for t in todo if first.get(t, "") is not None])
    return {t: t in seen and (first.get(t, "") is None or again.get(t, "") is None)
            for t in TOPICS}


def reads(secure: SecureStack, principal: str, seen: set[str]) -> dict[str, bool]:
    """Fetch partition 0 of every describable topic from the start (each holds a seed record)."""
    consumer = Consumer(conf(secure, principal, **{"group.id": f"{PREFIX}probe",
                                                   "enable.auto.commit": False}))
    try:
        outcome = {t: False for t in TOPICS if t not in seen}
        consumer.assign([TopicPartition(t, 0, 0) for t in sorted(seen)])
        deadline = time.monotonic() + 20
        while len(outcome) < len(TOPICS) and time.monotonic() < deadline:
            for msg in consumer.consume(100, 0.2):
                if msg.topic() in seen:
                    outcome.setdefault(str(msg.topic()), msg.error() is None)
        return outcome
    finally:
        consumer.close()


def probe(secure: SecureStack, principal: str) -> tuple[dict[str, bool], dict[str, bool]]:
    seen = describable(secure, principal)
    return writes(secure, principal, seen), reads(secure, principal, seen)


@pytest.fixture(scope="module")
def seeded(secure_stack: SecureStack) -> SecureStack:
    producer = Producer(conf(secure_stack, acl.ADMIN))
    for topic in TOPICS:
        producer.produce(topic, b"seed", b"k", partition=0)
    assert producer.flush(30) == 0
    return secure_stack


def test_every_principal_writes_and_reads_exactly_what_its_acls_allow(seeded: SecureStack) -> None:
    with ThreadPoolExecutor(len(NAMES)) as pool:
        results = dict(zip(NAMES, pool.map(lambda n: probe(seeded, n), NAMES), strict=True))
    got_w = {n: w for n, (w, _) in results.items()}
    got_r = {n: r for n, (_, r) in results.items()}
    wrong = []
    for name in NAMES:
        for topic in TOPICS:
            for op, got in (("Write", got_w[name]), ("Read", got_r[name])):
                want = granted(name, op, "topic", topic)
                if got.get(topic) is not want:
                    wrong.append(f"{name} {op} {topic}: expected {want}, got {got.get(topic)}")
    assert not wrong, "\n".join(wrong)
    # The weaknesses of issue #16, spelled out (the loop above already covers them).
    assert got_r[acl.WORKER][f"{PREFIX}stats-facts"] and got_w[acl.WORKER][f"{PREFIX}raw"]
    lag = got_r[acl.LAG]
    assert not any(lag.values()), "the lag principal reads no records"
    mk = acl.agency("mk-customs")
    for stream in ("raw", "dlq", "streams-vehicles-changelog", "share.al-customs", "matched"):
        assert not got_r[mk][f"{PREFIX}{stream}"], stream
    assert got_r[mk][f"{PREFIX}share.mk-customs"]
    terminal = acl.terminal("MK")
    assert [t for t, ok in got_w[terminal].items() if ok] == [f"{PREFIX}raw"]
    assert not any(got_r[terminal].values())


def _commit(secure: SecureStack, principal: str, group: str, topic: str) -> bool:
    """OffsetCommit (what a consumer's commit sends) through the admin client: bounded in time,
    where a denied consumer ``commit``/``committed`` keeps retrying the coordinator."""
    from confluent_kafka import ConsumerGroupTopicPartitions

    admin = AdminClient(conf(secure, principal))
    request = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, 0, 1)])
    futures = admin.alter_consumer_group_offsets([request], request_timeout=10)
    try:
        result = futures[group].result(15)
        return all(tp.error is None for tp in result.topic_partitions)
    except KafkaException:
        return False


def _group_offsets(secure: SecureStack, principal: str, group: str) -> bool:
    """OffsetFetch, as the lag exporter sends it."""
    from confluent_kafka import ConsumerGroupTopicPartitions

    admin = AdminClient(conf(secure, principal))
    futures = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)],
                                                request_timeout=10)
    try:
        futures[group].result(15)
        return True
    except KafkaException:
        return False


def test_groups_each_principal_its_own(seeded: SecureStack) -> None:
    share = f"{PREFIX}share.mk-customs"
    mk, al = acl.agency("mk-customs"), acl.agency("al-customs")
    assert _commit(seeded, mk, f"{PREFIX}agency.mk-customs", share)
    assert not _commit(seeded, al, f"{PREFIX}agency.mk-customs", share)
    assert not _commit(seeded, mk, f"{PREFIX}streams", share)
    assert _commit(seeded, acl.WORKER, f"{PREFIX}streams", f"{PREFIX}raw")
    assert not _commit(seeded, acl.terminal("MK"), f"{PREFIX}streams", f"{PREFIX}raw")
    # The lag exporter reads every group's commits but can commit none.
    assert _group_offsets(seeded, acl.LAG, f"{PREFIX}agency.mk-customs")
    assert not _commit(seeded, acl.LAG, f"{PREFIX}agency.mk-customs", share)
    assert not _group_offsets(seeded, al, f"{PREFIX}agency.mk-customs")


def _init_transactions(secure: SecureStack, principal: str, txid: str) -> bool:
    producer = Producer(conf(secure, principal, **{"transactional.id": txid}))
    try:
        producer.init_transactions(15)
        return True
    except KafkaException:
        return False


def test_transactional_ids_only_for_the_worker_under_its_prefix(seeded: SecureStack) -> None:
    assert _init_transactions(seeded, acl.WORKER, f"{PREFIX}streams-0")
    assert not _init_transactions(seeded, acl.WORKER, "other.streams-0")
    assert not _init_transactions(seeded, acl.terminal("MK"), f"{PREFIX}streams-0")


def test_only_the_admin_administers(seeded: SecureStack) -> None:
    from confluent_kafka.admin import (  # type: ignore[attr-defined]
        AclBindingFilter,
        AclOperation,
        AclPermissionType,
        ResourcePatternType,
        ResourceType,
        ScramCredentialInfo,
        ScramMechanism,
        UserScramCredentialUpsertion,
    )

    anything: Any = None
    every_acl = AclBindingFilter(ResourceType.ANY, anything, ResourcePatternType.ANY, anything,
                                 anything, AclOperation.ANY, AclPermissionType.ANY)
    takeover = UserScramCredentialUpsertion(
        acl.ADMIN, ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192), b"stolen")
    for name in (acl.WORKER, acl.agency("mk-customs"), acl.terminal("AL"), acl.LAG):
        admin = AdminClient(conf(seeded, name))
        futures = admin.create_topics([NewTopic(f"{PREFIX}rogue", 1, 1)], request_timeout=10)
        with pytest.raises(KafkaException, match="AUTHORIZATION"):
            futures[f"{PREFIX}rogue"].result(15)
        try:
            seen = admin.describe_acls(every_acl, request_timeout=10).result(15)
        except KafkaException as exc:
            assert "AUTHORIZATION" in str(exc)
        else:  # no cluster Describe: the broker answers with nothing, never the ACL map
            assert not seen, (name, len(seen))
        with pytest.raises(KafkaException, match="AUTHORIZATION"):
            admin.alter_user_scram_credentials([takeover], request_timeout=10)[acl.ADMIN].result(15)
