"""Keys, profiles and lists for the risk tests (no files, no broker)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bordersync.security.signing import Signer, TrustedKey, TrustStore

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
WATCH_KEYS = {"MK": b"m" * 32, "AL": b"a" * 32}


def signer(admin: str) -> tuple[Signer, TrustedKey]:
    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes(serialization.Encoding.Raw,
                                               serialization.PublicFormat.Raw)
    kid = f"{admin}:test-1"
    return (Signer(admin, kid, private),
            TrustedKey(kid, admin, public, not_before=T0 - timedelta(days=365)))


SIGNERS: dict[str, Signer] = {}
_KEYS: list[TrustedKey] = []
for _admin in ("MK", "AL", "RS"):
    _s, _k = signer(_admin)
    SIGNERS[_admin] = _s
    _KEYS.append(_k)
TRUST = TrustStore.of(_KEYS)


def profile(id_: str = "unsealed-truck", version: int = 1, **over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": id_, "version": version, "parties": ["MK", "AL"], "owner": "MK",
        "rule": {"kind": "cargo_unsealed", "vehicle_types": ["TRUCK"], "declared": True},
        "channel": "RED", "weight": 60,
        "valid_from": (T0 - timedelta(days=30)).isoformat(),
        "valid_until": (T0 + timedelta(days=30)).isoformat(),
        "description": "declared goods on a truck without a seal",
    }
    doc.update(over)
    return doc
