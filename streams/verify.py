"""Signature checks on raw records (docs/security.md): who signed a record, and may they?

``RecordVerifier`` is what ``streams.processor.Processor`` is given; it holds no Kafka client and
takes the batch's clock, so the processor stays pure. ``bordersync.security.keys.TrustFile`` re-reads the
trust file when it changes on disk, so a ``keys import`` or ``keys revoke`` reaches a running worker.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bordersync.security.keys import KeyStore, TrustFile
from bordersync.security.signing import SIG_HEADERS, Rejected, TrustStore, verify
from bordersync.settings import Settings

# A re-keyed record (streams.processor) carries the key it was signed with: the Kafka key is only
# routing, the signature still binds the value to that original key. Value: "k:" + base64 of the
# key, or "null" for a record signed without a key.
SIGNED_KEY_HEADER = "bs.sig.key"
_NULL_KEY = b"null"


@dataclass(frozen=True)
class Checked:
    """A record that may go on; when ``signed``, ``signed_key`` is the key its signature covers."""

    signed: bool = False
    signed_key: bytes | None = None


class RecordVerifier:
    """``required`` False: unsigned records pass, but a signature that is present must verify."""

    def __init__(self, trust: Callable[[], TrustStore], required: bool,
                 max_age_seconds: float | None = None) -> None:
        self.trust = trust
        self.required = required
        # A validly signed record older than the dedup TTL could be replayed as new (its id is no
        # longer remembered): in production it is refused by its event time instead.
        self.max_age_seconds = max_age_seconds

    @classmethod
    def from_settings(cls, settings: Settings) -> RecordVerifier:
        max_age = settings.dedup_ttl_seconds if settings.profile == "production" else None
        return cls(TrustFile(KeyStore.from_settings(settings)), settings.require_signatures,
                   max_age)

    def stale(self, event_time: datetime, now: datetime) -> Rejected | None:
        """Rejected when the event is older than the dedup TTL (a possible replay)."""
        if self.max_age_seconds is None:
            return None
        age = (now - event_time).total_seconds()
        if age <= self.max_age_seconds:
            return None
        return Rejected(f"event time {event_time.isoformat()} is older than the dedup TTL "
                        f"({self.max_age_seconds:.0f} s): refused as a possible replay")

    def check(self, value: bytes | None, key: bytes | None, headers: list[tuple[str, bytes]],
              admin: str, at: datetime) -> Checked | Rejected:
        names = [name for name, _ in headers]
        if not any(name in SIG_HEADERS for name in names):
            if self.required:
                return Rejected("unsigned: no signature headers (signatures are required)")
            return Checked()
        signed_key = key
        if SIGNED_KEY_HEADER in names:
            carried = [v for n, v in headers if n == SIGNED_KEY_HEADER]
            if len(carried) > 1:
                return Rejected(f"header {SIGNED_KEY_HEADER} repeated")
            decoded = _decode_key(carried[0])
            if isinstance(decoded, Rejected):
                return decoded
            signed_key = decoded
        result = verify(value, signed_key, headers, self.trust(), admin=admin, at=at)
        if isinstance(result, Rejected):
            return result
        return Checked(True, signed_key)


def _decode_key(raw: bytes) -> bytes | None | Rejected:
    if raw == _NULL_KEY:
        return None
    if not raw.startswith(b"k:"):
        return Rejected(f"header {SIGNED_KEY_HEADER} is malformed")
    try:
        return base64.b64decode(raw[2:], validate=True)
    except (binascii.Error, ValueError):
        return Rejected(f"header {SIGNED_KEY_HEADER} is not valid base64")


def forwarded_headers(headers: list[tuple[str, bytes]], checked: Checked
                      ) -> list[tuple[str, bytes]]:
    """Headers of a re-keyed copy: the signed key travels with it (once) when it was signed."""
    kept = [(n, v) for n, v in headers if n != SIGNED_KEY_HEADER]
    if checked.signed:
        key = checked.signed_key
        kept.append((SIGNED_KEY_HEADER,
                     _NULL_KEY if key is None else b"k:" + base64.b64encode(key)))
    return kept
