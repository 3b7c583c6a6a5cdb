"""The key store under ``$BORDERSYNC_HOME/keys/``: private keys (0600) and the shareable trust file.

Layout:
  keys/private/<admin>-<key id>.pem   PKCS#8 Ed25519 private key, mode 0600, never shared
  keys/trust.json                     public keys with validity and revocation (``TrustStore``);
                                      partners exchange this file

An administration's active key is its trusted key that has no ``not_after``, is not revoked and
whose private key is on this machine. Rotation gives the old key a ``not_after`` (now + overlap)
so records signed before the rotation still verify while they drain.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bordersync.security.signing import (
    PIPELINE_ADMIN,
    Signer,
    TrustedKey,
    TrustStore,
    make_kid,
    parse_kid,
)
from bordersync.settings import Settings

log = logging.getLogger("bordersync.security.keys")
# How often a running reader (worker, partner consumer) looks at the trust file for changes.
RELOAD_EVERY_SECONDS = 1.0


class KeyStoreError(RuntimeError):
    """A user-facing reason why a key operation cannot be done."""


class KeyStore:
    def __init__(self, root: Path, trust_file: Path | None = None) -> None:
        self.root = root
        self.private_dir = root / "private"
        self.trust_file = trust_file or root / "trust.json"
        # What the last ``import_trust`` refused to take, as (kid, reason).
        self.refused: list[tuple[str, str]] = []

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyStore:
        return cls(settings.home / "keys", settings.trust_file)

    # -- trust file -----------------------------------------------------------------------

    def trust(self) -> TrustStore:
        if not self.trust_file.exists():
            return TrustStore()
        try:
            return TrustStore.from_json(json.loads(self.trust_file.read_text()))
        except (ValueError, KeyError, TypeError) as exc:
            raise KeyStoreError(f"trust file {self.trust_file} is invalid: {exc}") from exc

    def save_trust(self, trust: TrustStore) -> None:
        self.trust_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.trust_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(trust.to_json(), indent=2) + "\n")
        # Atomic replace: a reader never sees half a trust file.
        tmp.replace(self.trust_file)

    def import_trust(self, other: TrustStore, admin: str | None = None) -> list[str]:
        """Merge a partner's trust file, restrictively; returns the key ids changed.

        Only keys of ``admin`` are taken (``keys import --admin``: a partner's file also lists
        keys it imported from others, which it cannot vouch for); None takes every key (a library
        merge of stores this process trusts already). Whatever the file says, an import never
        lengthens a known key's validity (``not_before`` only moves later, ``not_after`` only
        earlier: an expired key stays expired), never undoes a revocation, and never adds a key
        the file itself marks revoked. Refusals are in ``self.refused`` as ``(kid, reason)``."""
        current = dict(self.trust().keys)
        changed: list[str] = []
        self.refused = []
        for kid, key in sorted(other.keys.items()):
            if admin is not None and key.admin != admin:
                self.refused.append((kid, f"not a key of {admin}"))
                continue
            old = current.get(kid)
            if old is not None and old.public_key != key.public_key:
                raise KeyStoreError(f"{kid}: imported public key differs from the trusted one")
            if old is None:
                if key.revoked:
                    self.refused.append((kid, "revoked in the imported file"))
                    continue
                merged = key
            else:
                if old.revoked and not key.revoked:
                    self.refused.append((kid, "revoked here; an import never revives a key"))
                if _lengthens(old, key):
                    self.refused.append((kid, "would lengthen the key's validity; kept the "
                                              "shorter one"))
                merged = replace(old, revoked=old.revoked or key.revoked,
                                 not_before=max(old.not_before, key.not_before),
                                 not_after=_earliest(old.not_after, key.not_after))
            if merged != old:
                current[kid] = merged
                changed.append(kid)
        self.save_trust(TrustStore(current))
        return changed

    # -- private keys ---------------------------------------------------------------------

    def _private_path(self, kid: str) -> Path:
        parsed = parse_kid(kid)
        if parsed is None:
            raise KeyStoreError(f"malformed key id {kid!r}")
        return self.private_dir / f"{parsed[0]}-{parsed[1]}.pem"

    def _write_private(self, kid: str, key: Ed25519PrivateKey) -> None:
        self.private_dir.mkdir(parents=True, exist_ok=True)
        self.private_dir.chmod(0o700)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        # Created 0600 from the start: never world-readable, not even for a moment.
        fd = os.open(self._private_path(kid), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)

    def has_private(self, kid: str) -> bool:
        return self._private_path(kid).exists()

    def active(self, admin: str, trust: TrustStore | None = None) -> TrustedKey | None:
        trust = trust or self.trust()
        candidates = [
            k for k in trust.keys.values()
            if k.admin == admin and k.not_after is None and not k.revoked and self.has_private(k.kid)
        ]
        return max(candidates, key=lambda k: k.not_before, default=None)

    def signer(self, admin: str) -> Signer:
        key = self.active(admin)
        if key is None:
            raise KeyStoreError(
                f"no active signing key for {admin} in {self.root}: run `bordersync keys generate "
                f"--admin {admin}`"
            )
        pem = self._private_path(key.kid).read_bytes()
        private = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(private, Ed25519PrivateKey):
            raise KeyStoreError(f"{key.kid}: private key is not Ed25519")
        return Signer(admin=admin, kid=key.kid, private_key=private)

    # -- lifecycle ------------------------------------------------------------------------

    def _new_key(self, admin: str, now: datetime) -> TrustedKey:
        kid = make_kid(admin, f"{now:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}")
        private = Ed25519PrivateKey.generate()
        self._write_private(kid, private)
        public = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return TrustedKey(kid=kid, admin=admin, public_key=public, not_before=now)

    def generate(self, admin: str, now: datetime | None = None) -> TrustedKey:
        """The first key of an administration; refuses if it already has an active one."""
        now = now or datetime.now(UTC)
        trust = self.trust()
        current = self.active(admin, trust)
        if current is not None:
            raise KeyStoreError(
                f"{admin} already has the active key {current.kid}; use `bordersync keys rotate`"
            )
        key = self._new_key(admin, now)
        self.save_trust(TrustStore({**trust.keys, key.kid: key}))
        return key

    def rotate(self, admin: str, overlap: timedelta, now: datetime | None = None) -> TrustedKey:
        """A new active key; the old one verifies until now + overlap, then expires.

        The old private key is deleted: only verification needs the old key from now on."""
        now = now or datetime.now(UTC)
        trust = self.trust()
        keys = dict(trust.keys)
        current = self.active(admin, trust)
        if current is not None:
            keys[current.kid] = replace(current, not_after=now + overlap)
        new = self._new_key(admin, now)
        keys[new.kid] = new
        self.save_trust(TrustStore(keys))
        if current is not None:
            # Nothing signs with the old key any more; a stolen disk must not let anyone do so.
            self._private_path(current.kid).unlink(missing_ok=True)
        return new

    def revoke(self, kid: str) -> TrustedKey:
        """Withdraw trust at once (a leaked key); its private key file is deleted if present."""
        trust = self.trust()
        key = trust.get(kid)
        if key is None:
            raise KeyStoreError(f"unknown key id {kid}")
        revoked = replace(key, revoked=True)
        self.save_trust(TrustStore({**trust.keys, kid: revoked}))
        self._private_path(kid).unlink(missing_ok=True)
        return revoked


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    """The earlier end of validity; None means "no end"."""
    if a is None:
        return b
    return a if b is None else min(a, b)


def _lengthens(old: TrustedKey, new: TrustedKey) -> bool:
    starts_earlier = new.not_before < old.not_before
    ends_later = old.not_after is not None and (new.not_after is None or new.not_after > old.not_after)
    return starts_earlier or ends_later


class TrustFile:
    """The trust store of a key store, re-read when the file's mtime or size changes.

    A broken file at start-up is fatal (``KeyStoreError``); a broken file later keeps the last
    good trust store and logs the reason, so a half-edited file never stops the worker."""

    def __init__(self, store: KeyStore) -> None:
        self.store = store
        self._stamp = self._stat()
        self.trust = store.trust()
        self._checked = time.monotonic()

    def _stat(self) -> tuple[int, int] | None:
        try:
            st = self.store.trust_file.stat()
        except FileNotFoundError:
            return None
        return st.st_mtime_ns, st.st_size

    def __call__(self) -> TrustStore:
        now = time.monotonic()
        if now - self._checked < RELOAD_EVERY_SECONDS:
            return self.trust
        self._checked = now
        stamp = self._stat()
        if stamp != self._stamp:
            try:
                self.trust = self.store.trust()
                self._stamp = stamp
                log.info("trust file reloaded", extra={"fields": {
                    "file": str(self.store.trust_file), "keys": len(self.trust.keys)}})
            except KeyStoreError as exc:
                log.error("trust file unreadable; keeping the previous one",
                          extra={"fields": {"error": str(exc)}})
        return self.trust


def pipeline_signer(settings: Settings) -> Signer | None:
    """The streams worker's key for what it shares (docs/security.md), or None when this host has
    no active ``BORDERSYNC`` key: then share records go out unsigned."""
    store = KeyStore.from_settings(settings)
    if store.active(PIPELINE_ADMIN) is None:
        if settings.require_signatures:
            log.warning("no pipeline signing key: share records go out unsigned and consumers that "
                        "require signatures will skip them; run `bordersync keys generate --admin "
                        f"{PIPELINE_ADMIN}`", extra={"fields": {"keys": str(store.root)}})
        return None
    signer = store.signer(PIPELINE_ADMIN)
    log.info("signing share records", extra={"fields": {"kid": signer.kid}})
    return signer
