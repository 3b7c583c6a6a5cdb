"""The pipeline key (admin BORDERSYNC) and share-record signatures, without a broker: kids, the
readers' unsigned/required rule, the processor signing every share copy (and nothing else), and
which key a worker host signs with across generate, rotate and revoke."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bordersync.border import load_border_config
from bordersync.events import validate
from bordersync.security.keys import KeyStore, pipeline_signer
from bordersync.security.signing import (
    PIPELINE_ADMIN,
    Rejected,
    Signer,
    TrustStore,
    Verified,
    check,
    make_kid,
    parse_kid,
    sign,
)
from bordersync.settings import Settings
from bordersync.wire import codec
from streams.processor import InRecord, Processor
from tests.helpers import crossing

NOW = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)


def keys(tmp_path: Path, admin: str = PIPELINE_ADMIN) -> tuple[KeyStore, Signer]:
    store = KeyStore(tmp_path / "keys")
    store.generate(admin, NOW - timedelta(hours=1))
    return store, store.signer(admin)


def test_the_pipeline_is_one_more_principal_with_the_same_kid_format() -> None:
    assert make_kid(PIPELINE_ADMIN, "k1") == "BORDERSYNC:k1"
    assert parse_kid("BORDERSYNC:k1") == ("BORDERSYNC", "k1")
    for bad in ("BORDER:k1", "bordersync:k1", "BORDERSYNCX:k1", "MKD:k1", "BORDERSYNC:"):
        assert parse_kid(bad) is None
    with pytest.raises(ValueError, match="BORDERSYNC"):
        make_kid("BORDERSYNCS", "k1")


def test_readers_rule_unsigned_only_when_not_required_present_must_verify(tmp_path: Path) -> None:
    store, signer = keys(tmp_path)
    trust = store.trust()
    value, key = b'{"stream":"crossings"}', b"SK1234AB"
    headers = sign(value, key, signer)

    def run(v: bytes, h: list[tuple[str, bytes]], required: bool) -> Verified | Rejected | None:
        return check(v, key, h, trust, admin=PIPELINE_ADMIN, required=required, at=NOW)

    assert run(value, [], required=False) is None
    assert run(value, [("event_id", b"x")], required=True) == Rejected(
        "unsigned: no signature headers (signatures are required)")
    assert run(value, headers, required=False) == Verified(signer.kid, PIPELINE_ADMIN)
    tampered = run(value + b" ", headers, required=False)
    assert isinstance(tampered, Rejected) and tampered.reason.startswith("bad signature")
    # A lone header still means "signed": it must verify, even when signatures are optional.
    partial = run(value, [h for h in headers if h[0] == "bs.sig.kid"], required=False)
    assert partial == Rejected("unsigned: no bs.sig header")
    rogue = Signer(PIPELINE_ADMIN, "BORDERSYNC:rogue", Ed25519PrivateKey.generate())
    assert run(value, sign(value, key, rogue), required=False) == Rejected(
        "unknown key id BORDERSYNC:rogue")
    assert check(value, key, headers, TrustStore(), admin=PIPELINE_ADMIN, required=False,
                 at=NOW) == Rejected(f"unknown key id {signer.kid}")


def test_an_administrations_key_cannot_sign_share_records(tmp_path: Path) -> None:
    store, mk = keys(tmp_path, "MK")
    value = b"share"
    result = check(value, None, sign(value, None, mk), store.trust(), admin=PIPELINE_ADMIN,
                   required=True, at=NOW)
    assert isinstance(result, Rejected) and "signed by MK's key" in result.reason


def test_processor_signs_each_share_copy_and_nothing_else(tmp_path: Path) -> None:
    store, signer = keys(tmp_path)
    border = load_border_config()
    raw = InRecord(b"SK1234AB", codec.encode("raw", validate(crossing(), border)), [], "raw", 0, 0)
    signed = Processor(Settings(), border, 4, share_signer=signer).process(
        [raw], NOW, lambda _p: None)
    plain = Processor(Settings(), border, 4).process([raw], NOW, lambda _p: None)
    assert [(o.stream, o.key, o.value) for o in signed.outputs] == [
        (o.stream, o.key, o.value) for o in plain.outputs]
    assert all(o.headers is None for o in plain.outputs)
    shares = [o for o in signed.outputs if o.stream.startswith("share.")]
    assert len(shares) == 4
    for out in shares:
        assert out.headers is not None
        assert check(out.value, out.key, out.headers, store.trust(), admin=PIPELINE_ADMIN,
                     required=True, at=NOW) == Verified(signer.kid, PIPELINE_ADMIN)
    assert all(o.headers is None for o in signed.outputs if not o.stream.startswith("share."))


def test_pipeline_signer_follows_generate_rotate_and_revoke(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    assert pipeline_signer(settings) is None  # no key: share records go out unsigned
    store = KeyStore.from_settings(settings)
    first = store.generate(PIPELINE_ADMIN)
    found = pipeline_signer(settings)
    assert found is not None and found.kid == first.kid
    assert pipeline_signer(Settings(home=tmp_path, require_signatures=True)) is not None
    second = store.rotate(PIPELINE_ADMIN, timedelta(days=7))
    found = pipeline_signer(settings)
    assert found is not None and found.kid == second.kid
    store.revoke(second.kid)
    assert pipeline_signer(settings) is None


def test_the_pipeline_key_cannot_speak_for_an_administration_on_raw(tmp_path: Path) -> None:
    store, pipeline = keys(tmp_path)
    value = b"raw event of MK"
    result = check(value, b"SK1234AB", sign(value, b"SK1234AB", pipeline), store.trust(),
                   admin="MK", required=False, at=NOW)
    assert isinstance(result, Rejected)
    assert result.reason.startswith("record of administration 'MK' signed by BORDERSYNC's key")
