"""Signatures by an administration over a document: the same Ed25519 keys and canonical signed
bytes as events (``bordersync.security.signing``), under a key name of its own so that an approval can never
pass for a signed event and back.

A document is signed as ``signed_bytes(value=canonical JSON, key=b"<purpose>:<name>")``; the
purpose (``risk-profile``, ``risk-retire``, ``risk-list``) keeps a profile approval from being
replayed as a retirement or as a list.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bordersync.security.signing import (
    ALG,
    HEADER_ALG,
    HEADER_KID,
    HEADER_SIG,
    Rejected,
    Signer,
    TrustStore,
    parse_kid,
    sign,
    verify,
)

_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical(doc: Mapping[str, Any]) -> bytes:
    """The one byte string a document is signed as: sorted keys, no spaces, UTF-8."""
    return _CANONICAL.encode(doc).encode()


def approve(doc: Mapping[str, Any], purpose: str, name: str, signer: Signer) -> dict[str, str]:
    """``{"kid", "sig"}``: ``signer``'s administration approves ``doc`` for ``purpose``."""
    headers = dict(sign(canonical(doc), f"{purpose}:{name}".encode(), signer))
    return {"kid": headers[HEADER_KID].decode(), "sig": headers[HEADER_SIG].decode()}


def approver(approval: Mapping[str, Any]) -> str | None:
    """The administration an approval claims to speak for (checked by ``check``)."""
    parsed = parse_kid(str(approval.get("kid", "")))
    return None if parsed is None else parsed[0]


def check(doc: Mapping[str, Any], purpose: str, name: str, approval: Mapping[str, Any],
          trust: TrustStore, at: datetime) -> str | None:
    """None when a trusted, valid key of the claimed administration signed exactly ``doc`` for
    ``purpose``/``name``; otherwise the reason (tampered, unknown key, revoked, expired...)."""
    kid, sig = approval.get("kid"), approval.get("sig")
    if not isinstance(kid, str) or not isinstance(sig, str):
        return "approval without kid and sig strings"
    headers = [(HEADER_ALG, ALG.encode()), (HEADER_KID, kid.encode()), (HEADER_SIG, sig.encode())]
    found = verify(canonical(doc), f"{purpose}:{name}".encode(), headers, trust,
                   admin=approver(approval), at=at)
    return found.reason if isinstance(found, Rejected) else None
