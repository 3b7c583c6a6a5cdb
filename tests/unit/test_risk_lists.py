"""Watchlists without disclosure and AEO lists with mutual recognition."""

from __future__ import annotations

import json
from datetime import timedelta

from streams.risk.lists import (
    aeo_doc,
    build_lists,
    digest,
    list_key,
    signed_list,
    watchlist_doc,
)
from tests.unit.risk_support import SIGNERS, T0, TRUST, WATCH_KEYS

UNTIL = T0 + timedelta(days=30)


def _records(*docs: dict, signer_of: dict | None = None) -> dict[str, bytes]:
    out = {}
    for doc in docs:
        s = (signer_of or {}).get(doc["admin"], SIGNERS[doc["admin"]])
        out[list_key(doc)] = json.dumps(signed_list(doc, s) if s is SIGNERS[doc["admin"]]
                                        else {"list": doc, "approval": {}}).encode()
    return out


def test_watchlist_matches_every_accepted_spelling() -> None:
    doc = watchlist_doc("MK", WATCH_KEYS["MK"], ["SK 1234 AB", "MSKU1234565"], T0, UNTIL)
    lists = build_lists(_records(doc), TRUST, WATCH_KEYS, T0)
    assert lists.problems == []
    # Cyrillic look-alikes (Ѕ, К, А, В), hyphens, lower case, dots: all the same plate.
    for spelling in ("ЅК-1234-АВ", "sk.1234.ab", "SK1234AB", "Sk 1234-aB"):
        assert lists.watch_hits([("plate", spelling)]) == [("MK", "plate")], spelling
    assert lists.watch_hits([("trailer", "sk 1234 ab")]) == [("MK", "trailer")]
    assert lists.watch_hits([("container", "msku 123456-5")]) == [("MK", "container")]
    assert lists.watch_hits([("plate", "SK 1234 AC")]) == []


def test_the_published_list_holds_only_keyed_hashes() -> None:
    plates = ["SK 1234 AB", "TR 777 XY"]
    doc = watchlist_doc("MK", WATCH_KEYS["MK"], plates, T0, UNTIL)
    text = json.dumps(signed_list(doc, SIGNERS["MK"]))
    for plate in ("SK1234AB", "TR777XY", "1234", "777"):
        assert plate not in text
    # Without MK's key the other side cannot test a candidate: its own key gives other hashes,
    # and an unkeyed hash of the plate is not in the list either.
    import hashlib

    assert digest(WATCH_KEYS["AL"], "SK1234AB") not in doc["entries"]
    assert hashlib.sha256(b"SK1234AB").hexdigest()[:32] not in doc["entries"]
    assert digest(WATCH_KEYS["MK"], "SK1234AB") in doc["entries"]


def test_unsigned_foreign_signed_expired_or_keyless_lists_are_skipped() -> None:
    doc = watchlist_doc("MK", WATCH_KEYS["MK"], ["SK 1234 AB"], T0, UNTIL)
    forged = {list_key(doc): json.dumps({"list": doc, "approval": signed_list(
        {**doc, "admin": "AL"}, SIGNERS["AL"])["approval"]}).encode()}
    lists = build_lists(forged, TRUST, WATCH_KEYS, T0)
    assert lists.watch == {} and "not signed by MK" in lists.problems[0]
    tampered = json.loads(_records(doc)[list_key(doc)])
    tampered["list"]["entries"].append("0" * 32)
    lists = build_lists({list_key(doc): json.dumps(tampered).encode()}, TRUST, WATCH_KEYS, T0)
    assert lists.watch == {} and "bad signature" in lists.problems[0]
    assert "expired" in build_lists(_records(doc), TRUST, WATCH_KEYS,
                                    UNTIL + timedelta(seconds=1)).problems[0]
    keyless = build_lists(_records(doc), TRUST, {}, T0)
    assert keyless.watch == {} and "holds no watchlist key" in keyless.problems[0]


def test_aeo_operator_is_recognised_only_when_both_programmes_recognise_each_other() -> None:
    ops = [{"id": "MKAEO0001", "name": "Vardar Trans", "plates": ["SK 5555 TT"]}]
    mk = aeo_doc("MK", ops, ["AL"], T0, UNTIL)
    al_yes = aeo_doc("AL", [], ["MK"], T0, UNTIL)
    al_no = aeo_doc("AL", [], [], T0, UNTIL)
    t = T0.timestamp()
    lists = build_lists(_records(mk, al_yes), TRUST, WATCH_KEYS, T0)
    op = lists.operator("SK5555TT", {"MK", "AL"}, t)
    assert op is not None and (op.id, op.admin) == ("MKAEO0001", "MK")
    assert lists.operator("SK5555TT", {"MK", "RS"}, t) is None  # RS has no agreement
    one_sided = build_lists(_records(mk, al_no), TRUST, WATCH_KEYS, T0)
    assert one_sided.operator("SK5555TT", {"MK", "AL"}, t) is None
    expiring = aeo_doc("MK", [{**ops[0], "valid_until": (T0 + timedelta(days=1)).isoformat()}],
                       ["AL"], T0, UNTIL)
    later = build_lists(_records(expiring, al_yes), TRUST, WATCH_KEYS, T0)
    assert later.operator("SK5555TT", {"MK", "AL"}, t + 2 * 86400) is None


def test_garbage_lists_are_reported_never_raised() -> None:
    import copy
    import random

    rng = random.Random(18)
    ops = [{"id": "MKAEO0001", "plates": ["SK 5555 TT"]}]
    docs = [watchlist_doc("MK", WATCH_KEYS["MK"], ["SK 1234 AB"], T0, UNTIL),
            aeo_doc("MK", ops, ["AL"], T0, UNTIL)]
    junk: list[object] = [None, 1, "x", [], {}, [{}], [1, 2], {"a": None}]
    for _ in range(300):
        doc = copy.deepcopy(rng.choice(docs))
        rec = signed_list(doc, SIGNERS["MK"])
        target = rec if rng.random() < 0.3 else rec["list"]
        target[rng.choice(list(target))] = copy.deepcopy(rng.choice(junk))
        lists = build_lists({list_key(doc): json.dumps(rec).encode()}, TRUST, WATCH_KEYS, T0)
        assert not lists.watch and not lists.aeo and lists.problems
    assert build_lists({"x": b"\xff not json"}, TRUST, WATCH_KEYS, T0).problems
