"""Signed records: round trip, every way a record or its headers can be wrong, and rotation."""

from __future__ import annotations

import base64
import os
import stat
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bordersync.security.keys import KeyStore, KeyStoreError
from bordersync.security.signing import (
    HEADER_ALG,
    HEADER_KID,
    HEADER_SIG,
    Rejected,
    Signer,
    TrustedKey,
    TrustStore,
    Verified,
    sign,
    signed_bytes,
    verify,
)

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
VALUE = b'{"event_id":"mk-1","admin":"MK","plate":"SK1234AB"}'
KEY = b"SK1234AB"


def make_signer(admin: str = "MK", key_id: str = "k1") -> tuple[Signer, TrustedKey]:
    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    kid = f"{admin}:{key_id}"
    return (Signer(admin, kid, private),
            TrustedKey(kid=kid, admin=admin, public_key=public, not_before=T0))


@pytest.fixture
def mk() -> tuple[Signer, TrustStore]:
    signer, trusted = make_signer()
    return signer, TrustStore.of([trusted])


def replace_header(headers: list[tuple[str, bytes]], name: str, value: bytes | None
                   ) -> list[tuple[str, bytes | None]]:
    return [(n, value if n == name else v) for n, v in headers]


def reason(result: Verified | Rejected) -> str:
    assert isinstance(result, Rejected), result
    return result.reason


def test_round_trip(mk: tuple[Signer, TrustStore]) -> None:
    signer, trust = mk
    headers = sign(VALUE, KEY, signer)
    assert [n for n, _ in headers] == [HEADER_ALG, HEADER_KID, HEADER_SIG]
    assert dict(headers)[HEADER_KID] == b"MK:k1"
    at = T0 + timedelta(hours=1)
    assert verify(VALUE, KEY, headers, trust, admin="MK", at=at) == Verified("MK:k1", "MK")
    # Other headers around the signature do not matter; str values (Faust) work too.
    mixed = [("event_id", b"mk-1"), *[(n, v.decode()) for n, v in headers], ("x", None)]
    assert isinstance(verify(VALUE, KEY, mixed, trust, at=at), Verified)
    assert isinstance(verify(VALUE, KEY, dict(headers), trust, at=at), Verified)


def test_null_key_and_tombstone_are_signed_distinctly(mk: tuple[Signer, TrustStore]) -> None:
    signer, trust = mk
    at = T0 + timedelta(hours=1)
    headers = sign(VALUE, None, signer)
    assert isinstance(verify(VALUE, None, headers, trust, at=at), Verified)
    assert "bad signature" in reason(verify(VALUE, b"", headers, trust, at=at))
    tomb = sign(None, KEY, signer)
    assert isinstance(verify(None, KEY, tomb, trust, at=at), Verified)
    assert "bad signature" in reason(verify(b"", KEY, tomb, trust, at=at))


def test_canonical_bytes_are_injective() -> None:
    # Moving bytes between key and value must change what is signed.
    assert signed_bytes(b"ab", b"c", "MK", "MK:k1") != signed_bytes(b"b", b"ac", "MK", "MK:k1")
    assert signed_bytes(b"", None, "MK", "MK:k1") != signed_bytes(b"", b"", "MK", "MK:k1")
    assert signed_bytes(b"v", b"k", "MK", "MK:k1").startswith(b"bordersync.sig.v1\x00")


@pytest.mark.parametrize("value,key", [
    (VALUE.replace(b"SK1234AB", b"SK1234AC"), KEY),
    (VALUE + b" ", KEY),
    (VALUE, b"SK1234AC"),
    (VALUE, None),
])
def test_tampered_value_or_key_is_rejected(mk: tuple[Signer, TrustStore], value: bytes,
                                           key: bytes | None) -> None:
    signer, trust = mk
    headers = sign(VALUE, KEY, signer)
    assert "bad signature" in reason(verify(value, key, headers, trust, at=T0))


def test_record_of_another_admin_is_rejected(mk: tuple[Signer, TrustStore]) -> None:
    signer, trust = mk
    headers = sign(VALUE, KEY, signer)
    assert "record of administration 'AL' signed by MK's key" in reason(
        verify(VALUE, KEY, headers, trust, admin="AL", at=T0))


def test_kid_swapped_to_another_trusted_key_is_rejected() -> None:
    mk_signer, mk_key = make_signer("MK")
    _, al_key = make_signer("AL")
    trust = TrustStore.of([mk_key, al_key])
    headers = replace_header(sign(VALUE, KEY, mk_signer), HEADER_KID, b"AL:k1")
    assert "bad signature for key AL:k1" in reason(verify(VALUE, KEY, headers, trust, at=T0))


def test_unknown_kid_is_rejected(mk: tuple[Signer, TrustStore]) -> None:
    other, _ = make_signer("MK", "k2")
    _, trust = mk
    assert reason(verify(VALUE, KEY, sign(VALUE, KEY, other), trust, at=T0)) == \
        "unknown key id MK:k2"


def test_revoked_expired_and_not_yet_valid_keys_are_rejected() -> None:
    signer, key = make_signer()
    headers = sign(VALUE, KEY, signer)
    revoked = TrustStore.of([replace(key, revoked=True)])
    assert reason(verify(VALUE, KEY, headers, revoked, at=T0)) == "key MK:k1 is revoked"
    ending = TrustStore.of([replace(key, not_after=T0 + timedelta(days=1))])
    assert isinstance(verify(VALUE, KEY, headers, ending, at=T0 + timedelta(hours=23)), Verified)
    assert "expired" in reason(verify(VALUE, KEY, headers, ending, at=T0 + timedelta(days=1)))
    assert "not valid before" in reason(verify(VALUE, KEY, headers, ending,
                                               at=T0 - timedelta(seconds=1)))


@pytest.mark.parametrize("mutate,expected", [
    (lambda h: [], "unsigned: no bs.sig header"),
    (lambda h: None, "unsigned: no headers"),
    (lambda h: [x for x in h if x[0] != HEADER_ALG], "header bs.sig.alg missing"),
    (lambda h: [x for x in h if x[0] != HEADER_KID], "header bs.sig.kid missing"),
    (lambda h: replace_header(h, HEADER_ALG, b"rsa"), "unsupported signature algorithm"),
    (lambda h: replace_header(h, HEADER_SIG, b"!!not base64!!"), "not valid base64"),
    (lambda h: replace_header(h, HEADER_SIG, base64.b64encode(b"x" * 63)), "has 63 bytes"),
    (lambda h: replace_header(h, HEADER_SIG, base64.b64encode(b"x" * 65)), "has 65 bytes"),
    (lambda h: replace_header(h, HEADER_SIG, b""), "has 0 bytes"),
    (lambda h: replace_header(h, HEADER_SIG, None), "no bytes value"),
    (lambda h: replace_header(h, HEADER_KID, b"MK"), "malformed key id"),
    (lambda h: replace_header(h, HEADER_KID, b"mk:k1"), "malformed key id"),
    (lambda h: replace_header(h, HEADER_KID, b"MK:\xff"), "not ASCII"),
    (lambda h: [*h, (HEADER_SIG, h[2][1])], "header bs.sig repeated"),
    (lambda h: [("only-one-element",)], "malformed headers"),
    (lambda h: 42, "malformed headers"),
])
def test_malformed_headers_are_rejected_with_a_reason(
    mk: tuple[Signer, TrustStore], mutate: object, expected: str
) -> None:
    signer, trust = mk
    headers = mutate(sign(VALUE, KEY, signer))  # type: ignore[operator]
    assert expected in reason(verify(VALUE, KEY, headers, trust, at=T0))


def test_trust_store_json_round_trip(mk: tuple[Signer, TrustStore]) -> None:
    _, trust = mk
    assert TrustStore.from_json(trust.to_json()) == trust
    with pytest.raises(ValueError, match="does not belong"):
        TrustedKey(kid="AL:k1", admin="MK", public_key=b"x" * 32, not_before=T0)
    with pytest.raises(ValueError, match="32 bytes"):
        TrustedKey(kid="MK:k1", admin="MK", public_key=b"x" * 31, not_before=T0)


# -- key store on disk ----------------------------------------------------------------------


def test_generate_writes_private_key_0600_and_trust_file(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys")
    key = store.generate("MK", T0)
    assert key.kid.startswith("MK:20261125T120000-")
    pems = list((tmp_path / "keys" / "private").iterdir())
    assert len(pems) == 1
    assert stat.S_IMODE(os.stat(pems[0]).st_mode) == 0o600
    assert b"PRIVATE KEY" in pems[0].read_bytes()
    shared = (tmp_path / "keys" / "trust.json").read_text()
    assert "PRIVATE" not in shared and key.kid in shared
    signer = store.signer("MK")
    assert signer.kid == key.kid
    assert isinstance(verify(VALUE, KEY, sign(VALUE, KEY, signer), store.trust(), "MK", T0),
                      Verified)
    with pytest.raises(KeyStoreError, match="already has the active key"):
        store.generate("MK", T0)
    with pytest.raises(KeyStoreError, match="no active signing key for AL"):
        store.signer("AL")


def test_rotation_overlap_then_expiry(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys")
    old = store.generate("MK", T0)
    old_headers = sign(VALUE, KEY, store.signer("MK"))
    t1 = T0 + timedelta(days=30)
    new = store.rotate("MK", timedelta(days=7), t1)
    assert new.kid != old.kid
    new_signer = store.signer("MK")
    assert new_signer.kid == new.kid
    assert not store.has_private(old.kid)
    new_headers = sign(VALUE, KEY, new_signer)
    # A partner holding the exported trust file sees the same as this machine.
    partner = TrustStore.from_json(store.trust().to_json())
    during = t1 + timedelta(days=6)
    assert verify(VALUE, KEY, old_headers, partner, "MK", during) == Verified(old.kid, "MK")
    assert verify(VALUE, KEY, new_headers, partner, "MK", during) == Verified(new.kid, "MK")
    after = t1 + timedelta(days=7)
    assert "expired" in reason(verify(VALUE, KEY, old_headers, partner, "MK", after))
    assert isinstance(verify(VALUE, KEY, new_headers, partner, "MK", after), Verified)


def test_revocation_removes_trust_and_private_key(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys")
    key = store.generate("MK", T0)
    headers = sign(VALUE, KEY, store.signer("MK"))
    store.revoke(key.kid)
    assert not store.has_private(key.kid)
    assert reason(verify(VALUE, KEY, headers, store.trust(), "MK", T0)) == \
        f"key {key.kid} is revoked"
    # A revoked key can not come back through a stale partner file.
    stale = TrustStore.of([replace(key, revoked=False)])
    store.import_trust(stale)
    assert store.trust().keys[key.kid].revoked
    # With the only key revoked, generate starts afresh.
    assert store.generate("MK", T0).kid != key.kid


def test_import_merges_partner_keys_and_refuses_substituted_keys(tmp_path: Path) -> None:
    mine = KeyStore(tmp_path / "mk")
    theirs = KeyStore(tmp_path / "al")
    al_key = theirs.generate("AL", T0)
    assert mine.import_trust(theirs.trust()) == [al_key.kid]
    assert mine.active("AL") is None  # public only: we can verify AL but not sign for it
    headers = sign(VALUE, KEY, theirs.signer("AL"))
    assert isinstance(verify(VALUE, KEY, headers, mine.trust(), "AL", T0), Verified)
    _, impostor = make_signer("AL", al_key.kid.split(":")[1])
    with pytest.raises(KeyStoreError, match="differs from the trusted one"):
        mine.import_trust(TrustStore.of([impostor]))
