"""The one settings object. Every knob is read here, from ``BORDERSYNC_*`` variables or CLI flags."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Frozen runtime configuration; build a changed copy with ``model_copy(update=...)``."""

    model_config = SettingsConfigDict(env_prefix="BORDERSYNC_", frozen=True, extra="ignore")

    home: Path = Field(default=Path(".bordersync"), description="state: pid files, logs, outboxes")
    # None means "the embedded stack recorded in $home/stack.json".
    bootstrap: str | None = None
    redis_url: str | None = None
    schema_registry_url: str | None = None

    # Security for real clusters; the embedded broker runs PLAINTEXT.
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: str | None = None
    ssl_ca_location: str | None = None
    ssl_certificate_location: str | None = None
    ssl_key_location: str | None = None
    # A librdkafka client properties file (one per principal: `dev up --secure` and `bordersync
    # credentials generate` write them). Its bootstrap and security entries win over the ones
    # above: this is how a process is handed its principal (docs/security.md).
    client_properties: Path | None = None
    # "production" requires signed records on every reader and publisher (docs/security.md);
    # it cannot be combined with BORDERSYNC_REQUIRE_SIGNATURES=false.
    profile: Literal["dev", "production"] = "dev"

    # Signed events (docs/security.md). Partners' public keys; $home/keys/trust.json when unset.
    trust_file: Path | None = None
    # After a rotation the old key still verifies this long: cover the longest outbox backlog.
    key_overlap_seconds: int = Field(default=7 * 24 * 3600, ge=0)
    # Readers send unsigned, unknown-key or tampered records to the DLQ when set.
    require_signatures: bool = False

    border_config: Path | None = Field(
        default=None, description="crossings and agencies JSON; the shipped one when unset"
    )

    # Topics: a prefix lets tests and tenants run side by side on one cluster.
    topic_prefix: str = "bordersync."
    partitions: int = Field(default=4, ge=1)
    # None: as many replicas as the cluster has brokers, up to 3 (1 on a dev node, 3 in production).
    replication_factor: int | None = Field(default=None, ge=1)

    # Local stack (dev up): Apache Kafka on fixed loopback ports so every process finds it.
    dev_broker_port: int = 19092
    dev_redis_port: int = 16379
    # 1 for development and tests; 3 (replication 3, min.insync.replicas 2) for fault work.
    dev_brokers: int = Field(default=1, ge=1, le=5)
    dev_broker_heap_mb: int = Field(default=512, ge=128)
    # `dev up --secure`: TLS + SASL/SCRAM listeners only, one principal per role and agency, ACLs.
    dev_secure: bool = False

    # Group membership: a member that stops heartbeating loses its partitions after the session
    # timeout (a SIGKILLed worker's partitions move within 10 s). Kafka's fetch returns as soon as
    # data is there, so the max wait only bounds an idle fetch.
    session_timeout_ms: int = 10_000
    heartbeat_interval_ms: int = 1_000
    fetch_wait_max_ms: int = 500

    # Matching and alerting.
    default_window_minutes: int = 120
    grace_seconds: int = 300
    duplicate_window_seconds: int = 600
    dedup_ttl_seconds: int = 7 * 24 * 3600
    mass_tolerance_pct: float = 3.0
    # Streams processing: batch size / max wait of one processing batch, UNMATCHED sweep period,
    # statistics window length.
    stream_batch_max: int = Field(default=2000, ge=1)
    stream_batch_seconds: float = Field(default=0.01, gt=0)
    sweep_interval_seconds: float = Field(default=5.0, gt=0)
    stats_window_seconds: int = Field(default=300, ge=1)
    # Vehicles whose decoded state a worker keeps in memory between batches, besides every owned
    # vehicle's encoded state (docs/streams.md, "Live state"); 0: decode on every batch.
    live_vehicles: int = Field(default=4096, ge=0)

    # Joint risk assessment (docs/risk.md): a `risk` record per forwarded crossing event, profiles
    # and lists hot-reloaded from the compacted risk topics. Off: no risk records at all.
    risk_enabled: bool = False

    # Terminal outbox: undelivered events kept on disk before new ones are refused (OutboxFull).
    outbox_max_rows: int = Field(default=1_000_000, ge=1)

    # Streams worker.
    # "faust": the processor driven by a Faust agent (streams/ingest.py); "batch": the same
    # processor in a plain confluent-kafka loop (streams/engine.py). Both run the one runtime
    # (streams/runtime.py), each batch in one Kafka transaction by default (`stream_guarantee`);
    # guarantees per engine in docs/reliability.md. All workers of one deployment use one engine.
    stream_engine: Literal["faust", "batch"] = "faust"
    # Processing guarantee of both engines: "exactly_once" writes outputs, state changelog and
    # input offsets in one Kafka transaction; "at_least_once" flushes outputs, then state, then
    # commits (docs/streams.md).
    stream_guarantee: Literal["exactly_once", "at_least_once"] = "exactly_once"
    # Test hook of the stream runtime (streams/runtime_faults.py), e.g. "crash:after-outputs:2"
    # (exit hard after producing the outputs of batch 2) or "fail:changelog:1". Empty = off.
    stream_fault: str = ""
    worker_web_port: int = 0
    metrics_port: int = 0
    # Containers must expose /metrics beyond loopback: set 0.0.0.0 there.
    metrics_addr: str = "127.0.0.1"

    # Partner-agency consumers, read model and API (consumers/).
    agency: str | None = Field(default=None, description="default agency of lookup/api")
    consumer_batch_size: int = Field(default=500, ge=1)
    readmodel_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=60)
    api_port: int = 8088
    api_addr: str = "127.0.0.1"
    # Agency API security (docs/security.md, "Agency API"). JWKS file or https URL of the token
    # issuer; unset = dev mode: a local signing key under $home/api/ issues the tokens.
    api_jwks: str | None = None
    api_issuer: str = "bordersync-dev"
    api_audience: str = "bordersync-api"
    # TLS for the API; with a client CA, agency certificates (mutual TLS) authenticate too.
    api_tls_cert: Path | None = None
    api_tls_key: Path | None = None
    api_tls_client_ca: Path | None = None
    # /healthz and /metrics live on their own port, loopback by default (0 = any free port).
    api_admin_port: int = 8089
    api_admin_addr: str = "127.0.0.1"
    # Per-client token bucket: sustained requests per second and burst.
    api_rate_per_second: float = Field(default=20.0, gt=0)
    api_rate_burst: int = Field(default=100, ge=1)
    # Audit log entries kept per agency (Redis stream, approximate trim).
    api_audit_max_entries: int = Field(default=1_000_000, ge=1000)
    # Test hook: exit hard after the sink write of batch N, before its commit (0 = off).
    consumer_crash_after_batch: int = Field(default=0, ge=0)

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "WARNING"
    log_json: bool = True

    @model_validator(mode="before")
    @classmethod
    def _production_signs(cls, data: Any) -> Any:
        """The production profile turns signatures on; an explicit "off" beside it is refused
        rather than silently overridden (or silently obeyed)."""
        if not isinstance(data, dict) or data.get("profile") != "production":
            return data
        explicit = data.get("require_signatures")
        if explicit is not None and str(explicit).lower() in ("false", "0", "no", "off"):
            raise ValueError("profile=production requires signatures: unset "
                             "BORDERSYNC_REQUIRE_SIGNATURES or set it true")
        return {**data, "require_signatures": True}

    def topic(self, stream: str) -> str:
        """Physical topic name of a logical stream."""
        return f"{self.topic_prefix}{stream}"


def load(**overrides: object) -> Settings:
    """Settings from the environment, with CLI overrides (``None`` values ignored) on top."""
    base = Settings()
    clean = {k: v for k, v in overrides.items() if v is not None}
    if not clean:
        return base
    return Settings(**{**base.model_dump(), **clean})
