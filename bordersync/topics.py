"""Creating the topic catalogue on a cluster (idempotent)."""

from __future__ import annotations

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from bordersync.border import load_border_config
from bordersync.catalogue import all_topics, partitions_for
from bordersync.kafka import admin_conf
from bordersync.settings import Settings


def replication(settings: Settings, brokers: int | None = None, timeout: float = 30.0) -> int:
    """Replicas per topic: the setting, else as many as the cluster has brokers, up to 3."""
    if settings.replication_factor:
        return settings.replication_factor
    if brokers is None:
        brokers = len(AdminClient(admin_conf(settings)).list_topics(timeout=timeout).brokers)
    return min(3, max(1, brokers))


def create_topics(settings: Settings, timeout: float = 30.0) -> list[tuple[str, str]]:
    """Create every catalogue topic; returns ``(topic, "created" | "exists")`` per topic."""
    border = load_border_config(settings.border_config)
    admin = AdminClient(admin_conf(settings))
    metadata = admin.list_topics(timeout=timeout)
    existing = set(metadata.topics)
    replicas = replication(settings, len(metadata.brokers))
    wanted = [
        NewTopic(
            settings.topic(spec.stream),
            num_partitions=partitions_for(spec, settings),
            replication_factor=replicas,
            config=spec.configs(),
        )
        for spec in all_topics(border)
    ]
    results: list[tuple[str, str]] = []
    todo = [t for t in wanted if t.topic not in existing]
    results += [(t.topic, "exists") for t in wanted if t.topic in existing]
    if todo:
        for topic, future in admin.create_topics(todo, request_timeout=timeout).items():
            try:
                future.result(timeout)
                results.append((topic, "created"))
            except KafkaException as exc:
                if exc.args[0].name() != "TOPIC_ALREADY_EXISTS":
                    raise
                results.append((topic, "exists"))
    return sorted(results)
