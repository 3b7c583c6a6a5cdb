"""The Faust application: one worker runs every stream processor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bordersync.endpoints import resolve_bootstrap
from bordersync.kafka import faust_credentials
from bordersync.settings import Settings
from bordersync.topics import replication
from streams.faust_private import SCHEME, RebalanceHooks


class BorderApp(RebalanceHooks):
    """The worker's Faust app; its broker URLs select our safe-commit transport, and its
    rebalance hooks let the runtime restore state before an assignment is served
    (``streams.faust_private``)."""

    #: The runtime's fetch fault hook (``streams.runtime_faults``), read by our consumer.
    drop_fetched: Callable[[str], bool] | None = None
    #: Where the consumer hands every fetched message (``faust_private`` point 6).
    message_sink: Callable[[Any], Any] | None = None


def create_app(settings: Settings) -> BorderApp:
    bootstrap = resolve_bootstrap(settings)
    app = BorderApp(
        f"{settings.topic_prefix}streams",
        broker=[f"{SCHEME}://{b}" for b in bootstrap.split(",")],
        # SASL/TLS of this process's principal (BORDERSYNC_CLIENT_PROPERTIES or _SASL_*/_SSL_*).
        broker_credentials=faust_credentials(settings),
        topic_partitions=settings.partitions,
        topic_replication_factor=replication(settings),
        broker_session_timeout=settings.session_timeout_ms / 1000,
        broker_heartbeat_interval=settings.heartbeat_interval_ms / 1000,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        producer_linger=0.005,
        # aiokafka keeps one open batch per partition and waits for it to drain when full: the
        # 16 KiB default throttles a worker that writes ~6 records (shares) per input event.
        producer_max_batch_size=512 * 1024,
        producer_max_request_size=1024 * 1024,
        web_enabled=False,
        datadir=str(settings.home.resolve() / "faust"),
        # Faust creates no topic: the catalogue (``bordersync topics create``) makes the
        # changelog, compacted, before any worker runs. Declaring sent CreateTopics to the node
        # the metadata named controller, and when that node was down (a worker restarted during
        # a broker outage: soak seed 21) the start failed with NodeNotReadyError and the worker
        # exited 1. Nothing else needs a declare: our agents read catalogue topics.
        topic_allow_declare=False,
        # No leader election: no timer of ours runs ``on_leader``, and the election's
        # ``<app id>-__assignor-__leader`` topic would be one more topic to create and subscribe.
        topic_disable_leader=True,
        stream_wait_empty=False,
    )
    return app
