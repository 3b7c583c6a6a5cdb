"""A process's principal from one properties file (``BORDERSYNC_CLIENT_PROPERTIES``), for every
client: librdkafka configs and the Faust engine, which was given only ``kafka://host`` (issue #16)
and so could not join a secured cluster."""

from __future__ import annotations

import ssl
from pathlib import Path

from confluent_kafka import KafkaError, KafkaException

from bordersync.kafka import (
    admin_conf,
    consumer_conf,
    faust_credentials,
    kafka_error,
    producer_conf,
)
from bordersync.security.credentials import properties_text
from bordersync.settings import Settings
from tooling.tlsca import ensure_tls


def _settings(tmp_path: Path) -> Settings:
    tls = ensure_tls(tmp_path / "tls")
    path = tmp_path / "worker.properties"
    path.write_text(properties_text("b1:9093,b2:9093", "bordersync-worker", "s3cret", str(tls.ca)))
    return Settings(home=tmp_path, client_properties=path)


def test_properties_file_configures_every_librdkafka_client(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    for conf in (admin_conf(settings), producer_conf(settings), consumer_conf(settings, "g")):
        assert conf["bootstrap.servers"] == "b1:9093,b2:9093"
        assert conf["security.protocol"] == "SASL_SSL"
        assert (conf["sasl.mechanism"], conf["sasl.username"], conf["sasl.password"]) == \
            ("SCRAM-SHA-512", "bordersync-worker", "s3cret")
        assert conf["ssl.ca.location"] == str(tmp_path / "tls" / "ca.pem")


def test_faust_app_got_no_sasl_or_tls_settings(tmp_path: Path) -> None:
    from faust.auth import SASLCredentials

    from streams.app import create_app

    settings = _settings(tmp_path).model_copy(update={"replication_factor": 1})
    credentials = faust_credentials(settings)
    assert isinstance(credentials, SASLCredentials)
    assert (credentials.username, credentials.password) == ("bordersync-worker", "s3cret")
    assert credentials.mechanism.value == "SCRAM-SHA-512"
    assert credentials.protocol.value == "SASL_SSL"
    assert isinstance(credentials.ssl_context, ssl.SSLContext)
    assert credentials.ssl_context.verify_mode == ssl.CERT_REQUIRED
    app = create_app(settings)
    assert app.conf.broker_credentials is not None
    assert [u.host for u in app.conf.broker] == ["b1", "b2"]
    assert faust_credentials(Settings(home=tmp_path, bootstrap="x:1")) is None  # PLAINTEXT dev


def test_kafka_error_is_the_error_a_kafka_exception_carries() -> None:
    error = KafkaError(KafkaError._DESTROY_BROKER)
    assert kafka_error(KafkaException(error)) is error
    assert kafka_error(KafkaException()) is None  # no argument
    assert kafka_error(KafkaException("not a KafkaError")) is None
    assert kafka_error(RuntimeError(error)) is None  # only a KafkaException carries one
