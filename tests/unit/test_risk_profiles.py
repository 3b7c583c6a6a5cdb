"""Two-signature approval of risk profiles: one signature, tampering, expiry, retirement."""

from __future__ import annotations

import copy
import json
from datetime import timedelta

import pytest

from streams.risk.profiles import ProfileBook, ProfileError, countersign, parse_profile, propose
from tests.unit.risk_support import SIGNERS, T0, TRUST, profile


def _book(*records: dict) -> ProfileBook:
    book = ProfileBook()
    for rec in records:
        p = rec["profile"]
        book.apply(f"{p['id']}@{p['version']}", json.dumps(rec).encode())
    return book


def _states(book: ProfileBook, at=T0) -> dict[str, str]:
    return {s.key: s.state for s in book.evaluate(TRUST, at)}


def test_one_signature_has_no_effect_two_signatures_apply() -> None:
    proposed = propose(profile(), SIGNERS["MK"])
    book = _book(proposed)
    assert book.active(TRUST, T0) == []
    status = book.evaluate(TRUST, T0)[0]
    assert (status.state, status.detail) == ("pending", "signed by MK; awaiting AL")
    both = countersign(proposed, SIGNERS["AL"])
    assert [p.key for p in _book(both).active(TRUST, T0)] == ["unsealed-truck@1"]


def test_the_same_party_signing_twice_is_still_one_signature() -> None:
    twice = countersign(propose(profile(), SIGNERS["MK"]), SIGNERS["MK"])
    assert len(twice["approvals"]) == 1
    assert _states(_book(twice)) == {"unsealed-truck@1": "pending"}


def test_a_third_administration_cannot_approve_or_countersign() -> None:
    with pytest.raises(ProfileError, match="RS is not a party"):
        propose(profile(), SIGNERS["RS"])
    rec = propose(profile(), SIGNERS["MK"])
    with pytest.raises(ProfileError, match="RS is not a party"):
        countersign(rec, SIGNERS["RS"])


def test_tampered_profile_never_applies() -> None:
    both = countersign(propose(profile(), SIGNERS["MK"]), SIGNERS["AL"])
    for field, value in (("weight", 100), ("channel", "GREEN"),
                         ("valid_until", (T0 + timedelta(days=900)).isoformat())):
        tampered = copy.deepcopy(both)
        tampered["profile"][field] = value
        book = _book(tampered)
        assert book.active(TRUST, T0) == []
        status = book.evaluate(TRUST, T0)[0]
        assert status.state == "pending"
        assert "bad signature" in status.detail


def test_signature_copied_from_another_version_does_not_carry_over() -> None:
    v1 = countersign(propose(profile(), SIGNERS["MK"]), SIGNERS["AL"])
    v2 = {**copy.deepcopy(v1), "profile": profile(version=2, weight=90)}
    assert _states(_book(v1, v2)) == {"unsealed-truck@1": "active",
                                      "unsealed-truck@2": "pending"}


def test_expired_and_not_yet_valid_profiles_never_apply() -> None:
    both = countersign(propose(profile(), SIGNERS["MK"]), SIGNERS["AL"])
    book = _book(both)
    assert _states(book, T0 + timedelta(days=31)) == {"unsealed-truck@1": "expired"}
    assert _states(book, T0 - timedelta(days=31)) == {"unsealed-truck@1": "not-yet-valid"}


def test_new_version_supersedes_once_both_signed_and_either_party_retires() -> None:
    v1 = countersign(propose(profile(), SIGNERS["MK"]), SIGNERS["AL"])
    v2_pending = propose(profile(version=2, weight=80), SIGNERS["AL"])
    assert _states(_book(v1, v2_pending)) == {"unsealed-truck@1": "active",
                                              "unsealed-truck@2": "pending"}
    v2 = countersign(v2_pending, SIGNERS["MK"])
    assert _states(_book(v1, v2)) == {"unsealed-truck@1": "superseded",
                                      "unsealed-truck@2": "active"}
    retired = countersign(v2, SIGNERS["AL"], retire=True)
    assert _states(_book(v1, retired))["unsealed-truck@2"] == "retired"
    assert _book(v1, retired).active(TRUST, T0) == []


def test_bad_documents_are_refused_with_the_profile_and_field_named() -> None:
    cases = [({"weight": 101}, "weight"), ({"channel": "BLUE"}, "channel"),
             ({"rule": {"kind": "astrology"}}, "rule.kind: unknown 'astrology'"),
             ({"rule": {"kind": "history", "days": 0}}, "days"),
             ({"parties": ["MK"]}, "parties"), ({"owner": "RS"}, "owner"),
             ({"valid_until": "tomorrow"}, "valid_until"), ({"extra": 1}, "extra: unknown field")]
    for change, message in cases:
        with pytest.raises(ProfileError, match="profile 'unsealed-truck' v1: .*" + message):
            parse_profile(profile(**change))


def test_a_broken_record_on_the_topic_is_reported_not_raised() -> None:
    book = ProfileBook()
    book.apply("x@1", b"{not json")
    book.apply("y@1", json.dumps({"profile": profile(id_="z")}).encode())
    states = {s.key: (s.state, s.detail) for s in book.evaluate(TRUST, T0)}
    assert states["x@1"][0] == "invalid" and "not JSON" in states["x@1"][1]
    assert states["y@1"] == ("invalid", "record key 'y@1' is not 'z@1'")
    book.apply("x@1", None)
    assert "x@1" not in {s.key for s in book.evaluate(TRUST, T0)}


def test_garbage_on_the_topic_is_reported_never_raised() -> None:
    import random

    rng = random.Random(18)
    good = countersign(propose(profile(), SIGNERS["MK"]), SIGNERS["AL"])
    junk: list[object] = [None, 1, "x", [], {}, [{}], {"a": [1, {"b": None}]}, [1, 2]]
    for _ in range(300):
        rec = copy.deepcopy(good)
        target = rec if rng.random() < 0.3 else rec["profile"]
        target[rng.choice(list(target))] = copy.deepcopy(rng.choice(junk))
        if rng.random() < 0.3 and isinstance(rec.get("profile"), dict):
            rec["profile"]["rule"] = {
                "kind": rng.choice(["history", "watchlist", "mass_band", "cargo_unsealed"]),
                rng.choice(["days", "kinds", "fields", "admins", "min_kg", "max_kg",
                            "vehicle_types", "declared", "min_count"]): copy.deepcopy(
                                rng.choice(junk))}
        book = ProfileBook()
        book.apply("unsealed-truck@1", json.dumps(rec).encode())
        (status,) = book.evaluate(TRUST, T0)  # never raises
        intact = isinstance(rec.get("profile"), dict) and rec["profile"] == good["profile"]
        assert status.state != "active" or intact
