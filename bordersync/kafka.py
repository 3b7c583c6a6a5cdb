"""Kafka client configuration from settings: one place that knows about security and Tansu timings."""

from __future__ import annotations

from typing import Any

from bordersync.settings import Settings
from bordersync.stack import resolve_bootstrap


def common_conf(settings: Settings) -> dict[str, Any]:
    conf: dict[str, Any] = {
        "bootstrap.servers": resolve_bootstrap(settings),
        "security.protocol": settings.security_protocol,
        # Tansu answers ApiVersions fine; keep metadata fresh after explicit topic creation.
        "topic.metadata.refresh.interval.ms": 10_000,
        "log_level": 3,
    }
    if settings.sasl_mechanism:
        conf["sasl.mechanism"] = settings.sasl_mechanism
        conf["sasl.username"] = settings.sasl_username or ""
        conf["sasl.password"] = settings.sasl_password or ""
    for key, value in (
        ("ssl.ca.location", settings.ssl_ca_location),
        ("ssl.certificate.location", settings.ssl_certificate_location),
        ("ssl.key.location", settings.ssl_key_location),
    ):
        if value:
            conf[key] = value
    return conf


def producer_conf(settings: Settings, **extra: Any) -> dict[str, Any]:
    conf = common_conf(settings)
    conf.update(
        {
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "compression.type": "none",
        }
    )
    conf.update(extra)
    return conf


def consumer_conf(settings: Settings, group: str, **extra: Any) -> dict[str, Any]:
    conf = common_conf(settings)
    conf.update(
        {
            "group.id": group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": settings.session_timeout_ms,
            "heartbeat.interval.ms": settings.heartbeat_interval_ms,
            # Tansu sleeps about half of this on an empty fetch: keep it short for latency.
            "fetch.wait.max.ms": settings.fetch_wait_max_ms,
            "isolation.level": "read_committed",
        }
    )
    conf.update(extra)
    return conf


def admin_conf(settings: Settings) -> dict[str, Any]:
    return common_conf(settings)
