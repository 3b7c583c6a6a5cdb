"""Helpers for the agency API tests: a private Redis, a seeded read model, the live API, tokens.

These tests need Redis only (no broker): the read model is filled through the consumer's own
planner and sink (``consumers.readmodel.plan`` + ``RedisSink.apply``), which is what the
consumer does with each record it reads; the broker-to-Redis path has its own tests.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bordersync.border import load_border_config
from bordersync.settings import Settings
from consumers.auth import SCOPE_AUDIT, SCOPE_LOOKUP, issue_dev_token
from consumers.readmodel import AgencyContext, Keys, Write, plan
from consumers.sink import RedisSink, connect
from tests.conftest import Proc, wait_for
from tooling.bench.consumers import ShareRecord
from tooling.bench.consumers import share as share_record

AGENCY = "al-customs"
OTHER = "mk-customs"
CTX = AgencyContext.of(load_border_config(), AGENCY)


def seed(settings: Settings, records: Iterable[ShareRecord], agency: str = AGENCY) -> None:
    ctx = AgencyContext.of(load_border_config(), agency)
    keys = Keys.of(settings, agency)
    now = time.time()
    writes: list[Write] = []
    for key, share in records:
        found = plan(json.loads(json.dumps(share, default=_iso)), key.encode(), ctx, keys, now,
                     settings.readmodel_ttl_seconds)
        assert isinstance(found, Write), found
        writes.append(found)
    assert RedisSink(connect(settings), keys, settings.readmodel_ttl_seconds).apply(writes, False)


RED_HITS = [
    {"profile_id": "watch", "profile_version": 2, "owner": "MK", "rule": "watchlist",
     "channel": "RED", "weight": 100, "reason": "trailer on the MK watchlist"},
    {"profile_id": "unsealed-declared-truck", "profile_version": 1, "owner": "AL",
     "rule": "cargo_unsealed", "channel": "YELLOW", "weight": 50,
     "reason": "truck with declaration 26MK000000000001A1 travels without a seal"},
]


def risk(ctx: AgencyContext, plate: str, tag: str, exit_time: datetime, *,
         stage: str = "PRE_ARRIVAL", channel: str = "RED", hits: list[dict[str, Any]] | None = None,
         summary: str | None = None, operator: str | None = None) -> ShareRecord:
    """The ``risk`` share record (avro/risk/v1.avsc) of the EXIT ``<tag>-x`` of
    ``tooling.bench.consumers.journey`` (PRE_ARRIVAL, by the other side) or of its ENTRY ``<tag>-n``
    (ENTRY, by ``ctx``'s side, 12 minutes later)."""
    border = load_border_config()
    crossing = next(c for c in border.crossings if c.id in ctx.crossings)
    other = crossing.other_admin(ctx.admin)
    pre = stage == "PRE_ARRIVAL"
    hits = RED_HITS if hits is None and channel == "RED" else hits or []
    at = exit_time if pre else exit_time + timedelta(minutes=12)
    record = {
        "risk_id": f"{tag}-r-{stage}", "stage": stage, "crossing": crossing.id, "plate": plate,
        "event_id": f"{tag}-x" if pre else f"{tag}-n", "admin": other if pre else ctx.admin,
        "assessed_for": ctx.admin, "event_time": at, "channel": channel,
        "score": min(100, sum(int(h["weight"]) for h in hits)), "green_lane": channel == "GREEN",
        "operator": operator,
        "summary": summary if summary is not None else (
            ("physical control: " if channel == "RED" else "")
            + ("; ".join(str(h["reason"]) for h in hits) or "no profile hit")),
        "hits": hits, "profile_versions": ["unsealed-declared-truck@1", "watch@2"],
        "expected_arrival": exit_time + timedelta(minutes=10) if pre else None,
        "assessed_at": at + timedelta(seconds=1),
    }
    return plate, share_record(ctx.name, "risk", record)


def _iso(value: object) -> str:
    from datetime import datetime

    from bordersync.events import format_time

    assert isinstance(value, datetime)
    return format_time(value)


@dataclass
class Api:
    base: str
    admin: str
    proc: Proc


def start_api(settings: Settings, spawn: Callable[..., Proc], agency: str = AGENCY) -> Api:
    """Runs `bordersync api` on free ports and returns its URLs."""
    api = spawn(["api", "--agency", agency, "--port", "0"], settings)
    found: list[tuple[str, str]] = []

    def listening() -> bool:
        assert api.popen.poll() is None, api.output()
        found[:] = re.findall(r"api=(https?://\S+) admin=(http://\S+)", api.output())
        return bool(found)

    wait_for(listening, 30, "the API to listen")
    return Api(found[0][0], found[0][1], api)


def token(settings: Settings, agency: str = AGENCY, officer: str = "officer-1",
          audit: bool = False, ttl: int = 3600, now: float | None = None) -> str:
    scopes = (SCOPE_LOOKUP, SCOPE_AUDIT) if audit else (SCOPE_LOOKUP,)
    return issue_dev_token(settings, agency, officer, scopes, ttl=ttl, now=now)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any


def call(url: str, bearer: str | None = None, method: str = "GET",
         headers: dict[str, str] | None = None) -> Reply:
    request = urllib.request.Request(url, method=method, headers=dict(headers or {}))
    if bearer is not None:
        request.add_header("Authorization", f"Bearer {bearer}")
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            status, raw, head = resp.status, resp.read(), dict(resp.headers.items())
    except urllib.error.HTTPError as exc:
        status, raw, head = exc.code, exc.read(), dict(exc.headers.items())
    kind = head.get("Content-Type", "")
    return Reply(status, head, json.loads(raw) if "json" in kind else raw.decode())


def make_pki(where: Path, clients: Iterable[str]) -> dict[str, Path]:
    """A throw-away CA, a server certificate for 127.0.0.1 and one client certificate per
    name (subject commonName = the agency), as PEM files: ``ca``, ``server.crt``/``.key``,
    ``<name>.crt``/``.key``."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)
    files: dict[str, Path] = {}

    def save(name: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
        files[f"{name}.crt"] = where / f"{name}.crt"
        files[f"{name}.key"] = where / f"{name}.key"
        files[f"{name}.crt"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        files[f"{name}.key"].write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))

    def issue(cn: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name | None,
              signer: ec.EllipticCurvePrivateKey, ca: bool = False,
              usage: x509.ObjectIdentifier | None = None) -> x509.Certificate:
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
        builder = (x509.CertificateBuilder().subject_name(subject)
                   .issuer_name(issuer or subject).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - dt.timedelta(minutes=5))
                   .not_valid_after(now + dt.timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if usage is not None:
            builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        if usage == ExtendedKeyUsageOID.SERVER_AUTH:
            builder = builder.add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        if ca:
            builder = builder.add_extension(x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                key_encipherment=False, data_encipherment=False, key_agreement=False,
                encipher_only=False, decipher_only=False), critical=True)
        return builder.sign(signer, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = issue("bordersync test CA", ca_key, None, ca_key, ca=True)
    save("ca", ca, ca_key)
    server_key = ec.generate_private_key(ec.SECP256R1())
    save("server", issue("127.0.0.1", server_key, ca.subject, ca_key,
                         usage=ExtendedKeyUsageOID.SERVER_AUTH), server_key)
    for name in clients:
        key = ec.generate_private_key(ec.SECP256R1())
        save(name, issue(name, key, ca.subject, ca_key, usage=ExtendedKeyUsageOID.CLIENT_AUTH), key)
    return files


def tls_call(url: str, pki: dict[str, Path], client: str | None,
             bearer: str | None = None) -> Reply:
    """GET over TLS, trusting the test CA, presenting ``client``'s certificate when given."""
    import ssl

    ctx = ssl.create_default_context(cafile=str(pki["ca.crt"]))
    if client is not None:
        ctx.load_cert_chain(pki[f"{client}.crt"], pki[f"{client}.key"])
    request = urllib.request.Request(url)
    if bearer is not None:
        request.add_header("Authorization", f"Bearer {bearer}")
    try:
        with urllib.request.urlopen(request, timeout=10, context=ctx) as resp:
            status, raw, head = resp.status, resp.read(), dict(resp.headers.items())
    except urllib.error.HTTPError as exc:
        status, raw, head = exc.code, exc.read(), dict(exc.headers.items())
    kind = head.get("Content-Type", "")
    return Reply(status, head, json.loads(raw) if "json" in kind else raw.decode())
