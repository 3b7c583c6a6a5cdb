"""A private certificate authority for the secured dev stack (``dev up --secure``) and tests.

Operations tooling, not role code: no bordersync process needs it to run, only to set up a local
cluster. Keys are written 0600 from the moment the file exists (``os.open`` with the mode, never
``chmod`` afterwards), so a super user's key is never world-readable, not even briefly. Kafka reads
the broker's key and chain as a PEM keystore (``ssl.keystore.type=PEM``: an unencrypted PKCS#8 key
followed by the certificate chain).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from bordersync.security.secretfile import write_secret

VALID_DAYS = 825
_CURVE = ec.SECP256R1()


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


@dataclass(frozen=True)
class CA:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


def make_ca(cn: str = "bordersync-dev-ca", now: datetime | None = None) -> CA:
    now = now or datetime.now(UTC)
    key = ec.generate_private_key(_CURVE)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn)).issuer_name(_name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .sign(key, hashes.SHA256())
    )
    return CA(cert, key)


def issue(ca: CA, cn: str, dns: tuple[str, ...] = ("localhost",),
          ips: tuple[str, ...] = ("127.0.0.1",), now: datetime | None = None) -> bytes:
    """A PEM keystore for ``cn``: PKCS#8 key, then its certificate and the CA's (server and
    client use: brokers present it on TLS listeners and to each other's controller listener)."""
    now = now or datetime.now(UTC)
    key = ec.generate_private_key(_CURVE)
    names: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
    names += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn)).issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                              ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca.key, hashes.SHA256())
    )
    return _key_pem(key) + cert.public_bytes(serialization.Encoding.PEM) + ca.pem()


@dataclass(frozen=True)
class TlsFiles:
    """Where the dev stack's TLS material lives (``$home/secrets/tls``)."""

    directory: Path

    @property
    def ca(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca.key"

    @property
    def broker(self) -> Path:
        return self.directory / "broker.pem"


BROKER_CN = "bordersync-broker"


def ensure_tls(directory: Path) -> TlsFiles:
    """The CA and the brokers' keystore, made once (kept across ``dev down``/``up``)."""
    files = TlsFiles(directory)
    if files.ca.exists() and files.broker.exists():
        return files
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    ca = make_ca()
    write_secret(files.ca_key, _key_pem(ca.key))
    write_secret(files.broker, issue(ca, BROKER_CN))
    # The CA certificate is public, but 0600 costs nothing in a private directory.
    write_secret(files.ca, ca.pem())
    return files
