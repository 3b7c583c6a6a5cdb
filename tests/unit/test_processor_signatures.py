"""Signature checks in the pure processor: signed records flow; unsigned (when required),
unknown-key, tampered, impersonating, revoked and expired ones go to the DLQ with stage
``signature`` and the reason; a rotated key verifies during the overlap; a re-keyed record still
verifies after its hop."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bordersync.events import parse_time
from bordersync.plates import normalise_plate
from bordersync.security.signing import Signer, TrustedKey, TrustStore, sign
from bordersync.wire import codec
from streams.processor import REKEY_HEADER, InRecord, OutRecord, partition_for
from streams.verify import SIGNED_KEY_HEADER, RecordVerifier
from tests.helpers import crossing
from tests.unit.streams_support import T0, Harness, at


def new_key(admin: str, key_id: str, **validity: Any) -> tuple[Signer, TrustedKey]:
    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes(serialization.Encoding.Raw,
                                               serialization.PublicFormat.Raw)
    kid = f"{admin}:{key_id}"
    trusted = TrustedKey(kid=kid, admin=admin, public_key=public,
                         not_before=validity.pop("not_before", T0 - timedelta(days=1)), **validity)
    return Signer(admin=admin, kid=kid, private_key=private), trusted


MK, MK_TRUSTED = new_key("MK", "k1")
AL, AL_TRUSTED = new_key("AL", "k1")


def harness(trust: TrustStore, required: bool = True) -> Harness:
    h = Harness()
    h.processor.verifier = RecordVerifier(lambda: trust, required)
    return h


def signed(h: Harness, signer: Signer | None, key: bytes | None = None,
           tamper: dict[str, Any] | None = None, **overrides: Any) -> InRecord:
    """A raw record as a terminal sends it; ``tamper`` changes the value after signing."""
    event = crossing(event_time=at(0), **overrides)
    rec = h.record(event, key)
    headers = list(rec.headers)
    if signer is not None:
        headers += sign(rec.value, rec.key, signer)
    value = rec.value
    if tamper:
        value = codec.encode("raw", {**event, **tamper, "event_time": parse_time(at(0))})
    return rec._replace(value=value, headers=headers)


def dead(out: dict[str, list[Any]]) -> list[tuple[str, str]]:
    letters: list[OutRecord] = out.get("dlq", [])
    result = []
    for letter in letters:
        headers = dict(letter.headers or [])
        result.append((headers["dlq.stage"].decode(), headers["dlq.error"].decode()))
    return result


TRUST = TrustStore.of([MK_TRUSTED, AL_TRUSTED])


def test_signed_records_of_both_administrations_flow() -> None:
    h = harness(TRUST)
    out = h.run([signed(h, MK, event_id="mk-1"),
                 signed(h, AL, event_id="al-1", admin="AL", post="ALQTH01",
                        direction="ENTRY", plate="AA 111 BB")])
    assert [r["event_id"] for r in out["crossings"]] == ["mk-1", "al-1"]
    assert dead(out) == []


def test_unsigned_goes_to_the_dlq_only_when_signatures_are_required() -> None:
    h = harness(TRUST, required=True)
    out = h.run([signed(h, None, event_id="u-1")])
    assert out["crossings"] == []
    [(stage, error)] = dead(out)
    assert stage == "signature" and "'u-1'" in error and "unsigned" in error
    assert h.counts("dlq") == {("raw", "signature"): 1}

    lenient = harness(TRUST, required=False)
    assert [r["event_id"] for r in lenient.run([signed(lenient, None, event_id="u-1")])[
        "crossings"]] == ["u-1"]


def test_a_present_signature_must_verify_even_when_not_required() -> None:
    h = harness(TRUST, required=False)
    out = h.run([signed(h, MK, event_id="t-1", tamper={"gross_mass_kg": 1})])
    assert out["crossings"] == []
    [(stage, error)] = dead(out)
    assert stage == "signature" and "bad signature" in error


def test_tampered_unknown_key_and_impersonation_are_rejected_with_reasons() -> None:
    stranger, _ = new_key("MK", "stolen")
    h = harness(TRUST)
    out = h.run([
        signed(h, MK, event_id="tampered", tamper={"plate": "SK 1234 AC"}),
        signed(h, stranger, event_id="unknown"),
        # AL's genuine key signing a record that claims to be MK's.
        signed(h, AL, event_id="impersonated"),
        signed(h, MK, event_id="good"),
    ])
    assert [r["event_id"] for r in out["crossings"]] == ["good"]
    reasons = dead(out)
    assert [stage for stage, _ in reasons] == ["signature"] * 3
    assert "'tampered'" in reasons[0][1] and "bad signature for key MK:k1" in reasons[0][1]
    assert "unknown key id MK:stolen" in reasons[1][1]
    assert "record of administration 'MK' signed by AL's key AL:k1" in reasons[2][1]


def test_a_rejected_record_leaves_no_state_so_the_genuine_one_still_counts() -> None:
    h = harness(TRUST)
    h.run([signed(h, MK, event_id="same", tamper={"gross_mass_kg": 99})])
    out = h.run([signed(h, MK, event_id="same")])
    assert [r["event_id"] for r in out["crossings"]] == ["same"]
    assert out["alerts"] == []


def test_rotated_key_verifies_during_the_overlap_and_not_after() -> None:
    old, old_trusted = new_key("MK", "old")
    new, new_trusted = new_key("MK", "new", not_before=T0)
    rotated = TrustStore.of([replace(old_trusted, not_after=T0 + timedelta(days=7)), new_trusted,
                             AL_TRUSTED])
    h = harness(rotated)
    out = h.run([signed(h, old, event_id="before"),
                 signed(h, new, event_id="after", plate="SK 9999 ZZ")])
    assert sorted(r["event_id"] for r in out["crossings"]) == ["after", "before"]

    h.now = T0 + timedelta(days=8)
    out = h.run([signed(h, old, event_id="too-late", plate="SK 7777 ZZ")])
    [(stage, error)] = dead(out)
    assert stage == "signature" and "key MK:old expired" in error


def test_revoked_key_is_rejected() -> None:
    h = harness(TrustStore.of([replace(MK_TRUSTED, revoked=True)]))
    [(stage, error)] = dead(h.run([signed(h, MK, event_id="r-1")]))
    assert stage == "signature" and "key MK:k1 is revoked" in error


def test_a_foreign_keyed_record_is_verified_then_forwarded_with_its_signed_key() -> None:
    h = harness(TRUST)
    plate_key = normalise_plate("SK 1234 AB").encode()
    foreign = next(k for k in (b"lane-%d" % n for n in range(50))
                   if partition_for(k, 4) != partition_for(plate_key, 4))
    out = h.run([signed(h, MK, key=foreign, event_id="rekey")])
    [hop] = out["raw"]
    assert hop.key == plate_key
    headers = dict(hop.headers or [])
    assert REKEY_HEADER in headers and SIGNED_KEY_HEADER in headers
    # The copy on the vehicle's partition verifies against the key it was signed with.
    again = InRecord(hop.key, hop.value, list(hop.headers or []), "raw",
                     partition_for(plate_key, 4), 99)
    out = h.run([again])
    assert [r["event_id"] for r in out["crossings"]] == ["rekey"]

    # Pointing the carried key elsewhere breaks the signature.
    forged = [(n, b"k:AAAA" if n == SIGNED_KEY_HEADER else v) for n, v in hop.headers or []]
    out = h.run([again._replace(headers=forged, offset=100)])
    [(stage, error)] = dead(out)
    assert stage == "signature" and "bad signature" in error


def test_a_tampered_foreign_keyed_record_is_not_forwarded() -> None:
    h = harness(TRUST)
    out = h.run([signed(h, MK, key=b"lane-x", event_id="x", tamper={"gross_mass_kg": 5})])
    assert out["raw"] == []
    [(stage, _)] = dead(out)
    assert stage == "signature"


def test_without_a_verifier_nothing_is_checked() -> None:
    h = Harness()
    rec = signed(h, MK, event_id="plain", tamper={"gross_mass_kg": 3})
    assert [r["event_id"] for r in h.run([rec])["crossings"]] == ["plain"]
