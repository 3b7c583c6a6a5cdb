"""Signed records: each administration signs what it publishes; readers verify before trusting it.

Ed25519 over a canonical byte string (see ``signed_bytes`` and docs/security.md), carried in three
Kafka headers. Pure: no files, no clocks unless the caller omits ``at``. ``verify`` never raises on
bad input; it returns ``Rejected(reason)`` so callers can route the record to the DLQ.
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALG = "ed25519"
HEADER_ALG = "bs.sig.alg"
HEADER_KID = "bs.sig.kid"
HEADER_SIG = "bs.sig"
SIG_HEADERS = (HEADER_ALG, HEADER_KID, HEADER_SIG)
SIGNATURE_BYTES = 64
PUBLIC_KEY_BYTES = 32
# Domain separation: a signature made for bordersync records is useless anywhere else.
DOMAIN = b"bordersync.sig.v1\x00"

# Who a key speaks for: an administration (ISO 3166-1 alpha-2), or the joint pipeline itself for
# what the streams worker derives and shares (matched pairs, alerts, share records).
PIPELINE_ADMIN = "BORDERSYNC"
_ADMIN = re.compile(r"^(?:[A-Z]{2}|BORDERSYNC)$")
_KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

HeaderValue = bytes | str | None
Headers = Iterable[tuple[str, HeaderValue]] | Mapping[str, HeaderValue]


def make_kid(admin: str, key_id: str) -> str:
    if not _ADMIN.match(admin):
        raise ValueError(f"admin must be an ISO 3166-1 alpha-2 code or {PIPELINE_ADMIN}, "
                         f"got {admin!r}")
    if not _KEY_ID.match(key_id):
        raise ValueError(f"key id must match {_KEY_ID.pattern}, got {key_id!r}")
    return f"{admin}:{key_id}"


def parse_kid(kid: str) -> tuple[str, str] | None:
    """``(admin, key_id)`` of a well-formed kid, else None."""
    admin, sep, key_id = kid.partition(":")
    if not sep or not _ADMIN.match(admin) or not _KEY_ID.match(key_id):
        return None
    return admin, key_id


def _field(data: bytes) -> bytes:
    return struct.pack(">Q", len(data)) + data


def signed_bytes(value: bytes | None, key: bytes | None, admin: str, kid: str) -> bytes:
    """The exact bytes that are signed: domain tag, then admin, kid, key and value, each as
    a presence byte plus an 8-byte big-endian length and the bytes themselves.

    Length prefixes make the encoding injective (no two inputs share bytes), and the presence
    byte keeps a null key or tombstone distinct from an empty one.
    """
    out = bytearray(DOMAIN)
    for part in (admin.encode(), kid.encode(), key, value):
        if part is None:
            out += b"\x00"
        else:
            out += b"\x01" + _field(part)
    return bytes(out)


@dataclass(frozen=True)
class Signer:
    """An administration's active private key."""

    admin: str
    kid: str
    private_key: Ed25519PrivateKey = field(repr=False)

    def __post_init__(self) -> None:
        parsed = parse_kid(self.kid)
        if parsed is None or parsed[0] != self.admin:
            raise ValueError(f"kid {self.kid!r} does not belong to administration {self.admin!r}")


@dataclass(frozen=True)
class TrustedKey:
    """A public key and when it may be used; ``revoked`` withdraws trust at once."""

    kid: str
    admin: str
    public_key: bytes
    not_before: datetime
    not_after: datetime | None = None
    revoked: bool = False

    def __post_init__(self) -> None:
        parsed = parse_kid(self.kid)
        if parsed is None or parsed[0] != self.admin:
            raise ValueError(f"kid {self.kid!r} does not belong to administration {self.admin!r}")
        if len(self.public_key) != PUBLIC_KEY_BYTES:
            raise ValueError(f"{self.kid}: an Ed25519 public key has {PUBLIC_KEY_BYTES} bytes")
        for when in (self.not_before, self.not_after):
            if when is not None and when.tzinfo is None:
                raise ValueError(f"{self.kid}: validity times must be timezone-aware")

    def to_json(self) -> dict[str, Any]:
        return {
            "kid": self.kid, "admin": self.admin, "alg": ALG,
            "public_key": base64.b64encode(self.public_key).decode(),
            "not_before": self.not_before.astimezone(UTC).isoformat(),
            "not_after": self.not_after.astimezone(UTC).isoformat() if self.not_after else None,
            "revoked": self.revoked,
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> TrustedKey:
        if obj.get("alg", ALG) != ALG:
            raise ValueError(f"{obj.get('kid')}: unsupported algorithm {obj.get('alg')!r}")
        not_after = obj.get("not_after")
        return cls(
            kid=str(obj["kid"]), admin=str(obj["admin"]),
            public_key=base64.b64decode(str(obj["public_key"]), validate=True),
            not_before=datetime.fromisoformat(str(obj["not_before"])),
            not_after=datetime.fromisoformat(str(not_after)) if not_after else None,
            revoked=bool(obj.get("revoked", False)),
        )


@dataclass(frozen=True)
class TrustStore:
    """kid -> trusted public key; what a reader believes about every administration's keys."""

    keys: Mapping[str, TrustedKey] = field(default_factory=dict)

    @classmethod
    def of(cls, keys: Iterable[TrustedKey]) -> TrustStore:
        return cls({k.kid: k for k in keys})

    def get(self, kid: str) -> TrustedKey | None:
        return self.keys.get(kid)

    def to_json(self) -> dict[str, Any]:
        return {"version": 1, "keys": [self.keys[k].to_json() for k in sorted(self.keys)]}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> TrustStore:
        if obj.get("version") != 1:
            raise ValueError(f"unsupported trust file version {obj.get('version')!r}")
        return cls.of(TrustedKey.from_json(k) for k in obj.get("keys", []))


@dataclass(frozen=True)
class Verified:
    kid: str
    admin: str


@dataclass(frozen=True)
class Rejected:
    reason: str


def sign(value: bytes | None, key: bytes | None, signer: Signer) -> list[tuple[str, bytes]]:
    """The signature headers to add to a record with this key and value."""
    signature = signer.private_key.sign(signed_bytes(value, key, signer.admin, signer.kid))
    return [
        (HEADER_ALG, ALG.encode()),
        (HEADER_KID, signer.kid.encode()),
        (HEADER_SIG, base64.b64encode(signature)),
    ]


def _sig_headers(headers: Headers | None) -> dict[str, bytes] | Rejected:
    if headers is None:
        return Rejected("unsigned: no headers")
    items = headers.items() if isinstance(headers, Mapping) else headers
    found: dict[str, bytes] = {}
    try:
        for item in items:
            name, raw = item
            if name not in SIG_HEADERS:
                continue
            # A repeated header could make the verifier and a later reader disagree on which one
            # counts; refuse instead of picking one.
            if name in found:
                return Rejected(f"header {name} repeated")
            if isinstance(raw, str):
                raw = raw.encode()
            if not isinstance(raw, bytes):
                return Rejected(f"header {name} has no bytes value")
            found[name] = raw
    except (TypeError, ValueError):
        return Rejected("malformed headers")
    if HEADER_SIG not in found:
        return Rejected(f"unsigned: no {HEADER_SIG} header")
    for name in (HEADER_ALG, HEADER_KID):
        if name not in found:
            return Rejected(f"header {name} missing")
    return found


def verify(
    value: bytes | None, key: bytes | None, headers: Headers | None, trust: TrustStore,
    admin: str | None = None, at: datetime | None = None,
) -> Verified | Rejected:
    """Whether a trusted, currently valid key of the record's administration signed exactly
    this key and value. ``admin`` is the record's ``admin`` field when the caller has it."""
    found = _sig_headers(headers)
    if isinstance(found, Rejected):
        return found
    if found[HEADER_ALG] != ALG.encode():
        return Rejected(f"unsupported signature algorithm {found[HEADER_ALG][:32]!r}")
    try:
        kid = found[HEADER_KID].decode("ascii")
    except UnicodeDecodeError:
        return Rejected("key id is not ASCII")
    parsed = parse_kid(kid)
    if parsed is None:
        return Rejected(f"malformed key id {kid[:80]!r}")
    try:
        signature = base64.b64decode(found[HEADER_SIG], validate=True)
    except (binascii.Error, ValueError):
        return Rejected("signature is not valid base64")
    if len(signature) != SIGNATURE_BYTES:
        return Rejected(f"signature has {len(signature)} bytes, expected {SIGNATURE_BYTES}")
    # One signature, one spelling: base64 with stray low bits decodes to the same bytes.
    if base64.b64encode(signature) != found[HEADER_SIG]:
        return Rejected("signature is not canonical base64")
    trusted = trust.get(kid)
    if trusted is None:
        return Rejected(f"unknown key id {kid}")
    if trusted.revoked:
        return Rejected(f"key {kid} is revoked")
    now = at or datetime.now(UTC)
    if now < trusted.not_before:
        return Rejected(f"key {kid} is not valid before {trusted.not_before.isoformat()}")
    if trusted.not_after is not None and now >= trusted.not_after:
        return Rejected(f"key {kid} expired at {trusted.not_after.isoformat()}")
    if admin is not None and admin != trusted.admin:
        return Rejected(f"record of administration {admin!r} signed by {trusted.admin}'s key {kid}")
    try:
        Ed25519PublicKey.from_public_bytes(trusted.public_key).verify(
            signature, signed_bytes(value, key, trusted.admin, kid)
        )
    except InvalidSignature:
        return Rejected(f"bad signature for key {kid}: record altered or signed with another key")
    return Verified(kid=kid, admin=trusted.admin)


def is_signed(headers: Headers | None) -> bool:
    """Whether any signature header is present: then the signature must verify."""
    if headers is None:
        return False
    items = headers.items() if isinstance(headers, Mapping) else headers
    try:
        return any(item[0] in SIG_HEADERS for item in items)
    except (TypeError, IndexError):
        return True  # malformed headers: let ``verify`` say why


def check(
    value: bytes | None, key: bytes | None, headers: Headers | None, trust: TrustStore,
    admin: str, required: bool, at: datetime | None = None,
) -> Verified | Rejected | None:
    """The readers' rule (docs/security.md): a record without any signature header passes (None)
    unless signatures are ``required``; a record with one must verify, whatever the setting."""
    if not is_signed(headers):
        if required:
            return Rejected("unsigned: no signature headers (signatures are required)")
        return None
    return verify(value, key, headers, trust, admin=admin, at=at)
