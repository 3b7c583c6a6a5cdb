"""Watchlists without disclosure, and AEO (trusted-trader) lists with mutual recognition.

**Watchlists.** An administration's list holds keyed hashes, never identifiers:
``HMAC-SHA256(K_admin, "bordersync.watchlist.v1" 0x00 normalised identifier)`` truncated to 128
bits. Plates and container numbers are low-entropy (a plate space is ~10^8), so an unkeyed hash
could be enumerated in seconds by anyone who reads the list; with the key, only a holder of
``K_admin`` can test a candidate. The key is held by the contributing administration and by the
joint pipeline (the worker must compute the same hash of what it sees), never by the partner's
officers or agency consumers: they receive a ``risk`` record saying *which list and which
identifier kind* hit for the vehicle in front of them, not the list. Identifiers are normalised
with ``bordersync.plates.normalise_plate`` before hashing, so every spelling the pipeline
accepts (Cyrillic look-alikes, hyphens, spaces, dots, lower case) hashes to the same entry.
Reasoning and limits (a partner that publishes fake crossings could probe single plates; that is
signed, audited traffic): docs/risk.md.

**AEO lists** are not secret (trusted-trader lists are published): operator id, the fleet's
normalised plates, validity. An operator on X's list is *mutually recognised* at a crossing of X
and Y when X's list recognises Y's programme and Y's list recognises X's.

Records on the compacted ``risk-lists`` topic, key ``<kind>|<admin>``, value JSON signed by the
administration (``streams.risk.approval``, purpose ``risk-list``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bordersync.events import InvalidEvent, parse_time
from bordersync.plates import normalise_plate
from bordersync.security.signing import Signer, TrustStore
from streams.risk import approval

LIST_PURPOSE = "risk-list"
KINDS = ("watchlist", "aeo")
_TAG = b"bordersync.watchlist.v1\x00"
DIGEST_HEX = 32


class ListError(ValueError):
    """A list document is unusable; the message names the list and the reason."""


def normalise_ident(value: str) -> str:
    """Plates, trailer plates and container numbers: the plate normalisation for all three."""
    return normalise_plate(value.strip())


def key_id(key: bytes) -> str:
    """Names a watchlist key without revealing it (lists say which key hashed them)."""
    return hashlib.sha256(b"bordersync.watchlist-key\x00" + key).hexdigest()[:12]


def digest(key: bytes, ident: str) -> str:
    return _digest(key, normalise_ident(ident))


def _digest(key: bytes, normalised: str) -> str:
    # hmac.digest: the one-shot C implementation (about 5x cheaper than hmac.new per call).
    return hmac.digest(key, _TAG + normalised.encode(), "sha256").hex()[:DIGEST_HEX]


def watchlist_doc(admin: str, key: bytes, idents: Iterable[str], issued_at: datetime,
                  valid_until: datetime) -> dict[str, Any]:
    """The publishable list: sorted digests only (the order leaks nothing about the input)."""
    digests = sorted({digest(key, i) for i in idents if normalise_ident(i)})
    return {"kind": "watchlist", "admin": admin, "key_id": key_id(key),
            "issued_at": issued_at.isoformat(), "valid_until": valid_until.isoformat(),
            "entries": digests}


def aeo_doc(admin: str, operators: list[Mapping[str, Any]], recognises: list[str],
            issued_at: datetime, valid_until: datetime) -> dict[str, Any]:
    ops = [{"id": str(o["id"]), "name": str(o.get("name", "")),
            "plates": sorted({normalise_ident(p) for p in o.get("plates", [])}),
            **({"valid_until": str(o["valid_until"])} if o.get("valid_until") else {})}
           for o in operators]
    return {"kind": "aeo", "admin": admin, "recognises": sorted(set(recognises)),
            "issued_at": issued_at.isoformat(), "valid_until": valid_until.isoformat(),
            "operators": sorted(ops, key=lambda o: o["id"])}


def list_key(doc: Mapping[str, Any]) -> str:
    return f"{doc['kind']}|{doc['admin']}"


def signed_list(doc: Mapping[str, Any], signer: Signer) -> dict[str, Any]:
    if signer.admin != doc.get("admin"):
        raise ListError(f"{list_key(doc)}: only {doc.get('admin')} may sign its own list")
    return {"list": dict(doc), "approval": approval.approve(doc, LIST_PURPOSE, list_key(doc),
                                                            signer)}


@dataclass(frozen=True)
class Operator:
    id: str
    admin: str
    valid_until: float


@dataclass
class Lists:
    """The verified lists in force: what the evaluation consults for every event."""

    # admin -> (HMAC key, digests); only lists whose key this worker holds can match
    watch: dict[str, tuple[bytes, frozenset[str]]] = field(default_factory=dict)
    aeo: dict[str, dict[str, Operator]] = field(default_factory=dict)  # admin -> plate -> op
    recognises: dict[str, frozenset[str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def watch_hits(self, idents: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """(admin, field) for each (field, identifier) on some administration's watchlist."""
        found = []
        items = [(f, normalise_ident(v)) for f, v in idents if v]
        for admin, (key, digests) in self.watch.items():
            for fld, value in items:
                if _digest(key, value) in digests:
                    found.append((admin, fld))
        return found

    def operator(self, plate: str, sides: Iterable[str], t: float) -> Operator | None:
        """The mutually recognised AEO operator of this vehicle at a crossing between ``sides``."""
        a, b = sorted(sides)
        for own, other in ((a, b), (b, a)):
            op = self.aeo.get(own, {}).get(plate)
            if (op is not None and t < op.valid_until
                    and other in self.recognises.get(own, frozenset())
                    and own in self.recognises.get(other, frozenset())):
                return op
        return None


def _until(value: Any, name: str) -> float:
    try:
        return parse_time(value, name).timestamp()
    except InvalidEvent as exc:
        raise ListError(f"{name}: {exc}") from None


def build_lists(records: Mapping[str, bytes], trust: TrustStore, keys: Mapping[str, bytes],
                at: datetime) -> Lists:
    """Verify and index every list record; a bad, unsigned, foreign-signed or expired list is
    skipped and reported in ``problems`` (never raises)."""
    out = Lists()
    t = at.timestamp()
    for key in sorted(records):
        try:
            rec = json.loads(records[key])
            doc = rec["list"] if isinstance(rec, dict) else None
            if not isinstance(doc, dict) or doc.get("kind") not in KINDS:
                raise ListError("not a list record")
            if list_key(doc) != key:
                raise ListError(f"record key is not {list_key(doc)!r}")
            admin = str(doc["admin"])
            if approval.approver(rec.get("approval", {})) != admin:
                raise ListError(f"not signed by {admin}")
            reason = approval.check(doc, LIST_PURPOSE, key, rec["approval"], trust, at)
            if reason is not None:
                raise ListError(f"signature rejected: {reason}")
            if t >= _until(doc.get("valid_until"), "valid_until"):
                raise ListError("expired")
            if doc["kind"] == "watchlist":
                hkey = keys.get(admin)
                if hkey is None or key_id(hkey) != doc.get("key_id"):
                    raise ListError(f"this worker holds no watchlist key {doc.get('key_id')} "
                                    f"of {admin}: the list cannot match")
                out.watch[admin] = (hkey, frozenset(str(d) for d in doc["entries"]))
            else:
                list_until = _until(doc["valid_until"], "valid_until")
                by_plate = {}
                for o in doc["operators"]:
                    until = min(list_until, _until(o["valid_until"], "operator valid_until")
                                ) if o.get("valid_until") else list_until
                    for plate in o["plates"]:
                        by_plate[plate] = Operator(str(o["id"]), admin, until)
                out.aeo[admin] = by_plate
                out.recognises[admin] = frozenset(doc.get("recognises", []))
        except (ListError, ValueError, KeyError, TypeError, AttributeError) as exc:
            out.problems.append(f"list {key}: {exc}")
    return out
