"""Kafka client configuration from settings: one place that knows about security and timings.

A process is handed its principal either through ``BORDERSYNC_SECURITY_PROTOCOL`` /
``_SASL_*`` / ``_SSL_*`` or through a librdkafka properties file (``BORDERSYNC_CLIENT_PROPERTIES``,
one per principal: ``dev up --secure``, ``bordersync credentials``); the file's entries win.
Every client — librdkafka producers, consumers and admin clients, and the Faust engine's aiokafka
(``faust_credentials``) — is configured from the same merged view.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import ssl
from typing import Any

from confluent_kafka import KafkaError, KafkaException

from bordersync.endpoints import read_properties, resolve_bootstrap
from bordersync.settings import Settings

# Entries of a client properties file that configure who we are and where the cluster is.
PROPERTY_KEYS = ("bootstrap.servers", "security.protocol", "sasl.mechanism", "sasl.username",
                 "sasl.password", "ssl.ca.location", "ssl.certificate.location",
                 "ssl.key.location", "ssl.endpoint.identification.algorithm")


def kafka_error(exc: BaseException) -> KafkaError | None:
    """The ``KafkaError`` a ``KafkaException`` carries (its first argument), else None: what
    every retry and recovery decision looks at (its code, ``retriable()``, ``fatal()``)."""
    error = exc.args[0] if isinstance(exc, KafkaException) and exc.args else None
    return error if isinstance(error, KafkaError) else None


def kafka_exception(exc: BaseException) -> KafkaException | None:
    """The ``KafkaException`` a blocking client call raised, also when confluent-kafka hid it
    behind a ``SystemError``: a fatal error is raised (set in C) by the poll or flush that serves
    it, and when the same call then serves a delivery report, the Python callback runs with that
    exception set and its first call into the C module (``KafkaError.code``) raises
    ``SystemError: ... returned a result with an exception set``, chained to it (soak seed 43,
    2026-12-02; confluent-kafka-python#150). None: no Kafka error behind ``exc``."""
    if isinstance(exc, KafkaException):
        return exc
    if isinstance(exc, SystemError):
        cause = exc.__cause__ or exc.__context__
        return cause if isinstance(cause, KafkaException) else None
    return None


def client_properties(settings: Settings) -> dict[str, str]:
    """The recognised entries of the settings' client properties file (empty without one)."""
    if settings.client_properties is None:
        return {}
    props = read_properties(settings.client_properties)
    return {k: v for k, v in props.items() if k in PROPERTY_KEYS}


def common_conf(settings: Settings) -> dict[str, Any]:
    conf: dict[str, Any] = {
        "bootstrap.servers": resolve_bootstrap(settings),
        "security.protocol": settings.security_protocol,
        # Topics are created explicitly (`topics create`): see new ones within seconds, not 5 min.
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
    conf.update(client_properties(settings))
    return conf


def faust_credentials(settings: Settings) -> Any:
    """Faust's ``broker_credentials`` for the same principal and TLS trust as every other client
    (aiokafka takes an ``ssl.SSLContext``), or None for PLAINTEXT."""
    conf = common_conf(settings)
    protocol = str(conf.get("security.protocol", "PLAINTEXT")).upper()
    if protocol == "PLAINTEXT":
        return None
    context: ssl.SSLContext | None = None
    if protocol.endswith("SSL"):
        context = ssl.create_default_context(cafile=conf.get("ssl.ca.location"))
        if conf.get("ssl.certificate.location"):
            context.load_cert_chain(conf["ssl.certificate.location"], conf.get("ssl.key.location"))
    from faust.auth import SASLCredentials, SSLCredentials

    if protocol.startswith("SASL"):
        return SASLCredentials(username=conf.get("sasl.username"),
                               password=conf.get("sasl.password"),
                               mechanism=conf.get("sasl.mechanism", "PLAIN"), ssl_context=context)
    return SSLCredentials(context)


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
            # Bounds an idle fetch only: Kafka answers as soon as a record arrives.
            "fetch.wait.max.ms": settings.fetch_wait_max_ms,
            "isolation.level": "read_committed",
        }
    )
    conf.update(extra)
    return conf


def admin_conf(settings: Settings) -> dict[str, Any]:
    return common_conf(settings)


# --- consumer group metadata of a member librdkafka did not join -----------------------------


def _librdkafka() -> ctypes.CDLL:
    """The librdkafka confluent-kafka loaded (its wheel bundles one; a source build links the
    system's): the one whose ``send_offsets_to_transaction`` reads what we write."""
    import confluent_kafka  # noqa: F401  (loads the library)

    with open("/proc/self/maps") as maps:
        paths = {line.split()[-1] for line in maps if "librdkafka" in line.split()[-1]}
    path = min(paths) if paths else ctypes.util.find_library("rdkafka")
    if path is None:
        raise RuntimeError("librdkafka not found: confluent-kafka is not loaded")
    lib = ctypes.CDLL(path)
    lib.rd_kafka_consumer_group_metadata_new_with_genid.restype = ctypes.c_void_p
    lib.rd_kafka_consumer_group_metadata_new_with_genid.argtypes = [
        ctypes.c_char_p, ctypes.c_int32, ctypes.c_char_p, ctypes.c_char_p]
    lib.rd_kafka_consumer_group_metadata_write.restype = ctypes.c_void_p
    lib.rd_kafka_consumer_group_metadata_write.argtypes = [
        ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_size_t)]
    lib.rd_kafka_consumer_group_metadata_destroy.argtypes = [ctypes.c_void_p]
    lib.rd_kafka_mem_free.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    lib.rd_kafka_error_destroy.argtypes = [ctypes.c_void_p]
    return lib


_LIB: ctypes.CDLL | None = None


def group_metadata(group_id: str, generation: int, member_id: str,
                   instance_id: str | None = None) -> bytes:
    """The consumer group metadata ``Producer.send_offsets_to_transaction`` takes, for a member
    of ``group_id`` that another client joined (the Faust engine's aiokafka consumer): the
    transaction's offsets then carry that member's id and generation, and the group coordinator
    refuses them once the member is stale (KIP-447), exactly as for a librdkafka consumer's.
    Built by librdkafka's own public API (``rd_kafka_consumer_group_metadata_new_with_genid`` and
    ``_write``), which confluent-kafka does not expose, so the format is always the one it reads;
    ``tests/unit/test_kafka_group_metadata.py`` checks it against a librdkafka consumer's."""
    global _LIB
    lib = _LIB = _LIB or _librdkafka()
    cgmd = lib.rd_kafka_consumer_group_metadata_new_with_genid(
        group_id.encode(), generation, member_id.encode(),
        instance_id.encode() if instance_id is not None else None)
    buffer, size = ctypes.c_void_p(), ctypes.c_size_t()
    try:
        error = lib.rd_kafka_consumer_group_metadata_write(cgmd, ctypes.byref(buffer),
                                                           ctypes.byref(size))
        if error:
            lib.rd_kafka_error_destroy(error)
            raise RuntimeError(f"librdkafka could not write the group metadata of {group_id!r}")
        data = ctypes.string_at(buffer.value or 0, size.value)
        lib.rd_kafka_mem_free(None, buffer)
        return data
    finally:
        lib.rd_kafka_consumer_group_metadata_destroy(cgmd)
