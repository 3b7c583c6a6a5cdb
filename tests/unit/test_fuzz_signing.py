"""Fuzzing signature verification (2,000 generated inputs): ``verify`` never raises, and only
the untouched record with its untouched signature headers verifies."""

from __future__ import annotations

import base64
import random
from datetime import UTC, datetime

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from bordersync.security.signing import (
    SIG_HEADERS,
    Rejected,
    Signer,
    TrustedKey,
    TrustStore,
    Verified,
    sign,
    verify,
)
from tests.unit.fuzzing import SEEDS, fuzz

T0 = datetime(2026, 11, 25, tzinfo=UTC)
PRIVATE = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
SIGNER = Signer("MK", "MK:k1", PRIVATE)
TRUST = TrustStore.of([TrustedKey(
    kid="MK:k1", admin="MK", not_before=T0,
    public_key=PRIVATE.public_key().public_bytes(serialization.Encoding.Raw,
                                                 serialization.PublicFormat.Raw),
)])
VALUE, KEY = b'{"event_id":"mk-1"}', b"SK1234AB"
SIGNED = sign(VALUE, KEY, SIGNER)

HEADER_NAMES = st.sampled_from([*SIG_HEADERS, "bs.sig ", "BS.SIG", "event_id", ""])
HEADER_VALUES = (st.none() | st.binary(max_size=100) | st.text(max_size=100)
                 | st.sampled_from([v for _, v in SIGNED])
                 | st.binary(min_size=64, max_size=64).map(base64.b64encode))
HEADERS = (st.lists(st.tuples(HEADER_NAMES, HEADER_VALUES), max_size=6)
           | st.dictionaries(HEADER_NAMES, HEADER_VALUES, max_size=4) | st.none())


@fuzz(1200)
@given(HEADERS, st.none() | st.binary(max_size=40), st.none() | st.binary(max_size=20))
def test_arbitrary_headers_never_raise_and_never_verify(headers: object, value: bytes | None,
                                                        key: bytes | None) -> None:
    result = verify(value, key, headers, TRUST, admin="MK", at=T0)  # type: ignore[arg-type]
    assert isinstance(result, Rejected) and result.reason.strip()


@fuzz(800)
@given(SEEDS)
def test_any_change_to_a_signed_record_is_rejected(seed: int) -> None:
    rnd = random.Random(seed)
    headers = [(n, bytearray(v)) for n, v in SIGNED]
    value, key = bytearray(VALUE), bytearray(KEY)
    target = rnd.choice([value, key, *[v for _, v in headers]])
    pos = rnd.randrange(len(target))
    if rnd.random() < 0.7:
        target[pos] ^= 1 << rnd.randrange(8)
    else:
        target.insert(pos, rnd.randrange(256))
    result = verify(bytes(value), bytes(key), [(n, bytes(v)) for n, v in headers], TRUST,
                    admin="MK", at=T0)
    assert isinstance(result, Rejected), (value, key, headers)
    assert verify(VALUE, KEY, SIGNED, TRUST, admin="MK", at=T0) == Verified("MK:k1", "MK")
