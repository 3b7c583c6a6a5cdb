"""Authentication and TLS against the embedded broker (Tansu 0.6.0), through bordersync Settings.

Each test runs its own private Tansu on free ports (never the session broker). What Tansu 0.6.0
allows, found by running it and reading its source (docs/security.md, "Embedded broker"):

- ``--authentication`` works: a client that does not authenticate is refused, and SCRAM clients
  configured through ``Settings`` -> ``bordersync.kafka.common_conf`` reach the SASL exchange and
  are denied with a clear error when their credentials are wrong.
- No client can ever be *accepted*: the only storage engine built into this binary (memory, the
  "dynostore" engine) stores no SCRAM credentials — upserting one is a no-op and looking one up
  always finds nothing, so every user is "unknown-user". ``tansu user create`` also needs an
  authenticated connection on a broker with ``--authentication``. The positive path (create
  topics, produce, consume as a SCRAM user) therefore can only be shown against a real cluster.
- TLS can not be enabled: ``--cert`` and ``--key`` are mutually exclusive on its command line
  and either one alone leaves the listener in plaintext.
These tests pin that behaviour down so an upgrade that changes it is noticed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import logging
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bordersync.kafka import admin_conf
from bordersync.settings import Settings
from bordersync.stack import free_port, tansu_binary

CLIENT_TIMEOUT_S = 4.0


@dataclass
class PrivateBroker:
    bootstrap: str
    log: Path
    proc: subprocess.Popen[bytes]

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@contextlib.contextmanager
def private_tansu(tmp_path: Path, *extra: str) -> Iterator[PrivateBroker]:
    """A Tansu of our own on a free port, always stopped afterwards."""
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    log = tmp_path / f"tansu-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [tansu_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/", *extra],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"tansu exited with {proc.returncode}: {log.read_text()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"tansu not listening on {port}")
            time.sleep(0.05)
        yield PrivateBroker(f"127.0.0.1:{port}", log, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Captured(logging.Handler):
    """librdkafka's own log lines, where it states why a connection failed."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def metadata_error(settings: Settings) -> tuple[KafkaException | None, str]:
    """Try a metadata request with this client config; the failure and librdkafka's log."""
    captured = Captured()
    logger = logging.getLogger(f"bordersync.test.rdkafka.{id(captured)}")
    logger.propagate = False
    logger.addHandler(captured)
    conf = {**admin_conf(settings), "logger": logger, "log_level": 3}
    admin = AdminClient(conf)
    error: KafkaException | None = None
    try:
        admin.list_topics(timeout=CLIENT_TIMEOUT_S)
    except KafkaException as exc:
        error = exc
    # Log lines reach the Python logger only when the client is polled.
    admin.poll(0.5)
    logger.removeHandler(captured)
    return error, "\n".join(captured.lines)


def scram_settings(bootstrap: str, mechanism: str, user: str, password: str, home: Path
                   ) -> Settings:
    return Settings(home=home, bootstrap=bootstrap, security_protocol="SASL_PLAINTEXT",
                    sasl_mechanism=mechanism, sasl_username=user,  # type: ignore[arg-type]
                    sasl_password=password)


def test_unauthenticated_client_is_refused(tmp_path: Path) -> None:
    with private_tansu(tmp_path, "--authentication") as broker:
        plain = Settings(home=tmp_path, bootstrap=broker.bootstrap)
        error, _ = metadata_error(plain)
        assert error is not None, "a PLAINTEXT client got metadata from a broker requiring auth"
        assert "NotAuthenticated" in broker.log_text()


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_scram_client_with_wrong_credentials_is_denied_with_a_clear_error(
    tmp_path: Path, mechanism: str
) -> None:
    with private_tansu(tmp_path, "--authentication") as broker:
        settings = scram_settings(broker.bootstrap, mechanism, "mk-terminal", "wrong", tmp_path)
        conf = admin_conf(settings)
        # The Settings -> client path carries the security settings a real cluster needs.
        assert conf["security.protocol"] == "SASL_PLAINTEXT"
        assert conf["sasl.mechanism"] == mechanism
        assert conf["sasl.username"] == "mk-terminal"
        error, log = metadata_error(settings)
        assert error is not None
        assert "SASL authentication error" in log, log
        assert f"SASL {mechanism.split('-SHA')[0]} authentication failed" in log, log


def test_users_can_not_be_created_on_the_embedded_broker(tmp_path: Path) -> None:
    """Why no SCRAM client can be accepted by Tansu 0.6.0's memory engine (see module doc)."""
    tansu = tansu_binary()
    with private_tansu(tmp_path, "--authentication") as broker:
        created = subprocess.run(
            [tansu, "user", "create", "--broker", f"tcp://{broker.bootstrap}",
             "--mechanism", "scram256", "alice", "s3cret"],
            capture_output=True, text=True, timeout=30,
        )
        assert created.returncode != 0
        assert "NotAuthenticated" in broker.log_text()
        # And the user's right password is refused too: there is no way to store alice.
        error, log = metadata_error(
            scram_settings(broker.bootstrap, "SCRAM-SHA-256", "alice", "s3cret", tmp_path))
        assert error is not None and "unknown-user" in log, log
    with private_tansu(tmp_path) as open_broker:
        created = subprocess.run(
            [tansu, "user", "create", "--broker", f"tcp://{open_broker.bootstrap}",
             "--mechanism", "scram256", "alice", "s3cret"],
            capture_output=True, text=True, timeout=30,
        )
        assert created.returncode == 0, created.stderr
        admin = AdminClient(admin_conf(Settings(home=tmp_path, bootstrap=open_broker.bootstrap)))
        stored = admin.describe_user_scram_credentials().result(timeout=CLIENT_TIMEOUT_S * 2)
        assert stored == {}, f"Tansu now stores SCRAM users ({stored}): test the positive path"


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "broker.crt", tmp_path / "broker.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_tls_can_not_be_enabled_on_the_embedded_broker(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    both = subprocess.run(
        [tansu_binary(), "broker", "--listener-url", f"tcp://127.0.0.1:{free_port()}",
         "--storage-engine", "memory://tansu/", "--cert", str(cert), "--key", str(key)],
        capture_output=True, text=True, timeout=30,
    )
    assert both.returncode != 0 and "cannot be used with" in both.stderr, both.stderr
    with private_tansu(tmp_path, "--cert", str(cert)) as broker:
        tls = Settings(home=tmp_path, bootstrap=broker.bootstrap, security_protocol="SSL",
                       ssl_ca_location=str(cert))
        assert admin_conf(tls)["ssl.ca.location"] == str(cert)
        error, _ = metadata_error(tls)
        assert error is not None, "Tansu now speaks TLS: test TLS clients instead"
        plain = Settings(home=tmp_path, bootstrap=broker.bootstrap)
        assert metadata_error(plain)[0] is None
