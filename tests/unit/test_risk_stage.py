"""The risk stage inside the pure processor: pre-arrival records, sharing, hot reload, green lane,
hit-rate tallies. Real Avro codec, so the risk schema and the share projection are exercised."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import timedelta
from typing import Any

from bordersync.border import load_border_config
from bordersync.events import parse_time
from bordersync.plates import normalise_plate
from bordersync.settings import Settings
from bordersync.wire import codec
from streams.processor import InRecord, Processor, partition_for
from streams.risk.lists import aeo_doc, list_key, signed_list, watchlist_doc
from streams.risk.profiles import countersign, propose
from streams.risk.stage import RiskSources, RiskStage
from tests.unit.risk_support import SIGNERS, T0, TRUST, WATCH_KEYS, profile

UNTIL = T0 + timedelta(days=30)


class Run:
    def __init__(self, risk: bool = True) -> None:
        self.sources = RiskSources(watch_keys=dict(WATCH_KEYS), trust=lambda: TRUST)
        border = load_border_config()
        self.stage = RiskStage(border, self.sources) if risk else None
        self.processor = Processor(Settings(), border, 4, risk=self.stage)
        self.store: dict[str, bytes] = {}
        self.offset = 0
        self.tally: dict[tuple[str, tuple[str, ...]], int] = defaultdict(int)
        self.observed: list[tuple[str, tuple[str, ...], float]] = []

    def approve(self, doc: dict[str, Any], *admins: str) -> None:
        rec = propose(doc, SIGNERS[admins[0]])
        for admin in admins[1:]:
            rec = countersign(rec, SIGNERS[admin])
        self.sources.apply("profiles", f"{doc['id']}@{doc['version']}", json.dumps(rec).encode())

    def publish_list(self, doc: dict[str, Any]) -> None:
        value = json.dumps(signed_list(doc, SIGNERS[doc["admin"]])).encode()
        self.sources.apply("lists", list_key(doc), value)

    def feed(self, raw: dict[str, Any], minutes: float = 5) -> dict[str, list[Any]]:
        key = normalise_plate(raw["plate"]).encode()
        value = codec.encode("raw", {**raw, "event_time": parse_time(raw["event_time"])})
        self.offset += 1
        rec = InRecord(key, value, [], "raw", partition_for(key, 4), self.offset)
        result = self.processor.process([rec], T0 + timedelta(minutes=minutes), self.store.get)
        for plate, state in result.state.items():
            if state is None:
                self.store.pop(plate, None)
            else:
                self.store[plate] = state
        for k, n in result.tally.counts.items():
            self.tally[k] += n
        self.observed += result.tally.observations
        out: dict[str, list[Any]] = defaultdict(list)
        for o in result.outputs:
            if o.stream.startswith("share.") or o.stream in ("risk", "alerts", "matched"):
                out[o.stream].append(codec.decode(o.stream, o.value))
        return out


def crossing(event_id: str, direction: str, plate: str = "SK 1234 AB", minutes: float = 0,
             **extra: Any) -> dict[str, Any]:
    admin, post = ("MK", "MKKJF01") if direction == "EXIT" else ("AL", "ALQTH01")
    return {"event_id": event_id, "kind": "crossing", "admin": admin, "post": post,
            "event_time": (T0 + timedelta(minutes=minutes)).isoformat(), "plate": plate,
            "nationality": "MK", "terminal_id": f"{admin}-booth-1", "direction": direction,
            "vehicle_type": "TRUCK", "gross_mass_kg": 30000,
            "declaration_ref": "26MK000000000001A1", **extra}


def inspection(event_id: str, result: str, minutes: float, plate: str = "SK 1234 AB"
               ) -> dict[str, Any]:
    return {"event_id": event_id, "kind": "inspection", "admin": "AL", "post": "ALQTH01",
            "event_time": (T0 + timedelta(minutes=minutes)).isoformat(), "plate": plate,
            "nationality": "MK", "terminal_id": "AL-scanner-1", "inspection_type": "PHYSICAL",
            "result": result}


def test_pre_arrival_record_reaches_the_entry_customs_share_on_the_exit() -> None:
    run = Run()
    run.approve(profile(), "MK", "AL")
    out = run.feed(crossing("mk-1", "EXIT"))
    (risk,) = out["risk"]
    assert (risk["stage"], risk["channel"], risk["score"]) == ("PRE_ARRIVAL", "RED", 60)
    assert risk["assessed_for"] == "AL" and risk["profile_versions"] == ["unsealed-truck@1"]
    assert risk["hits"][0]["reason"] == "truck with declaration 26MK000000000001A1 travels " \
                                        "without a seal"
    assert risk["expected_arrival"] == T0 + timedelta(minutes=10)
    shared = [s for s in out["share.al-customs"] if s["stream"] == "risk"]
    assert len(shared) == 1 and shared[0]["record"]["channel"] == "RED"
    assert shared[0]["record"]["summary"].startswith("physical control: truck with")
    assert not [s for s in out["share.al-border-police"] if s["stream"] == "risk"]
    # The ENTRY comes later and gets the entry side's own assessment.
    entry = run.feed(crossing("al-1", "ENTRY", minutes=12), minutes=13)
    assert [r["stage"] for r in entry["risk"]] == ["ENTRY"]
    assert run.tally[("risk_assessed", ("kjafasan-qafe-thane", "PRE_ARRIVAL", "RED"))] == 1


def test_one_signature_has_no_effect_in_the_pipeline() -> None:
    run = Run()
    run.approve(profile(), "MK")
    (risk,) = run.feed(crossing("mk-1", "EXIT"))["risk"]
    assert (risk["channel"], risk["hits"], risk["profile_versions"]) == ("STANDARD", [], [])


def test_profiles_hot_reload_between_batches() -> None:
    run = Run()
    assert run.feed(crossing("mk-1", "EXIT", plate="SK 1 AA"))["risk"][0]["channel"] == "STANDARD"
    run.approve(profile(), "MK", "AL")  # the feed applies a record while the worker runs
    assert run.feed(crossing("mk-2", "EXIT", plate="SK 2 AA"))["risk"][0]["channel"] == "RED"
    run.approve(profile(version=2, channel="YELLOW", weight=20), "AL", "MK")
    assert run.feed(crossing("mk-3", "EXIT", plate="SK 3 AA"))["risk"][0]["channel"] == "YELLOW"


def test_watchlist_hit_on_a_cyrillic_hyphenated_spelling_without_disclosing_the_list() -> None:
    run = Run()
    run.approve(profile("watch", rule={"kind": "watchlist"}, weight=100), "MK", "AL")
    doc = watchlist_doc("MK", WATCH_KEYS["MK"], ["SK 1234 AB", "OT 999 ZZ"], T0, UNTIL)
    run.publish_list(doc)
    # MK's officer types the plate on a Cyrillic keyboard, with hyphens; seals present.
    out = run.feed(crossing("mk-1", "EXIT", plate="ЅК-1234-АВ", seals=["S1"]))
    (risk,) = out["risk"]
    assert risk["channel"] == "RED" and risk["plate"] == "SK1234AB"
    assert risk["hits"][0]["reason"] == "plate on the MK watchlist"
    shared = json.dumps([s for s in out["share.al-customs"]], default=str)
    assert "plate on the MK watchlist" in shared
    for secret in [*doc["entries"], "OT999ZZ", doc["key_id"]]:
        assert secret not in shared  # neither other entries, their hashes nor the key id


def test_aeo_operator_with_clean_history_gets_the_green_lane() -> None:
    run = Run()
    run.approve(profile("heavy", rule={"kind": "mass_band", "max_kg": 20000}, channel="YELLOW",
                        weight=30), "MK", "AL")
    run.approve(profile("repeat", rule={"kind": "history", "days": 7}, channel="RED",
                        weight=80), "MK", "AL")
    ops = [{"id": "MKAEO0001", "plates": ["SK 5555 TT"]}]
    run.publish_list(aeo_doc("MK", ops, ["AL"], T0, UNTIL))
    run.publish_list(aeo_doc("AL", [], ["MK"], T0, UNTIL))
    (risk,) = run.feed(crossing("mk-1", "EXIT", plate="SK 5555 TT", seals=["S1"]))["risk"]
    assert (risk["channel"], risk["green_lane"], risk["operator"]) == ("GREEN", True, "MKAEO0001")
    assert [h["profile_id"] for h in risk["hits"]] == ["heavy"]  # YELLOW does not stop GREEN
    # A discrepancy on this trip: the next trip's history is not clean and hits RED.
    run.feed(crossing("al-1", "ENTRY", plate="SK 5555 TT", minutes=8, seals=["S9"]), minutes=9)
    (again,) = run.feed(crossing("mk-2", "EXIT", plate="SK 5555 TT", minutes=60,
                                 seals=["S2"]), minutes=61)["risk"]
    assert again["channel"] == "RED" and not again["green_lane"]
    assert "1 discrepancy in the last 7 days" in again["summary"]


def test_inspection_outcomes_are_joined_to_the_assessment() -> None:
    run = Run()
    run.approve(profile(), "MK", "AL")
    run.feed(crossing("mk-1", "EXIT"))
    run.feed(crossing("al-1", "ENTRY", minutes=10), minutes=11)
    run.feed(inspection("al-i-1", "SEIZED", minutes=25), minutes=26)
    assert run.tally[("risk_outcomes", ("ENTRY", "RED", "SEIZED"))] == 1
    assert run.tally[("risk_rule_outcomes", ("unsealed-truck", "SEIZED"))] == 1
    dwell = [(labels, v) for name, labels, v in run.observed if name == "risk_dwell"]
    assert dwell == [(("kjafasan-qafe-thane", "other"), 15 * 60.0)]


def test_without_the_stage_nothing_changes() -> None:
    with_stage, without = Run(), Run(risk=False)
    a = with_stage.feed(crossing("mk-1", "EXIT"))
    b = without.feed(crossing("mk-1", "EXIT"))
    assert "risk" not in b and a["risk"]
    assert [s for s in a["share.al-customs"] if s["stream"] != "risk"] == b["share.al-customs"]


def test_tampered_expired_or_foreign_profiles_never_apply_in_the_pipeline() -> None:
    run = Run()
    rec = countersign(propose(profile(), SIGNERS["MK"]), SIGNERS["AL"])
    rec["profile"]["weight"] = 100  # altered after both signed
    run.sources.apply("profiles", "unsealed-truck@1", json.dumps(rec).encode())
    run.approve(profile("old", valid_until=(T0 - timedelta(days=1)).isoformat()), "MK", "AL")
    run.approve(profile("serbian", parties=["MK", "RS"]), "MK", "RS")  # another crossing pair
    (risk,) = run.feed(crossing("mk-1", "EXIT"))["risk"]
    assert (risk["channel"], risk["hits"], risk["profile_versions"]) == ("STANDARD", [], [])
    assert any("bad signature" in p for p in run.stage.problems)  # type: ignore[union-attr]


def test_the_agency_read_model_keeps_risk_records_per_vehicle() -> None:
    from consumers.readmodel import AgencyContext, Keys, Write, plan

    run = Run()
    run.approve(profile(), "MK", "AL")
    (share,) = [s for s in run.feed(crossing("mk-1", "EXIT"))["share.al-customs"]
                if s["stream"] == "risk"]
    border = load_border_config()
    keys = Keys("t:")
    write = plan(share, b"SK1234AB", AgencyContext.of(border, "al-customs"), keys,
                 T0.timestamp(), 3600)
    assert isinstance(write, Write) and write.stream == "risk"
    (op,) = [o for o in write.ops if o[0] == "hset" and o[1] == keys.risk("SK1234AB")]
    assert "physical control" in json.dumps(op, default=str)


def test_an_exit_side_control_reported_after_the_exit_joins_the_pre_arrival_assessment() -> None:
    run = Run()
    run.approve(profile(), "MK", "AL")
    run.feed(crossing("mk-1", "EXIT", minutes=30), minutes=31)
    late = {**inspection("mk-i-1", "HOLD", minutes=20), "admin": "MK", "post": "MKKJF01",
            "terminal_id": "MK-xray-1", "inspection_type": "XRAY"}
    run.feed(late, minutes=32)
    assert run.tally[("risk_outcomes", ("PRE_ARRIVAL", "RED", "HOLD"))] == 1
    # ... and one reported before its EXIT is joined when the EXIT is assessed, once.
    run.feed({**late, "event_id": "mk-i-2", "plate": "SK 9 BB", "result": "CLEARED"}, minutes=33)
    run.feed(crossing("mk-2", "EXIT", plate="SK 9 BB", minutes=30), minutes=34)
    assert run.tally[("risk_outcomes", ("PRE_ARRIVAL", "RED", "CLEARED"))] == 1


def test_risk_records_and_their_share_copies_are_the_bytes_of_the_general_encoder() -> None:
    border = load_border_config()
    outputs = []
    for encode in (codec.encode, lambda s, r: codec.encode(s, r)):
        run = Run()
        run.approve(profile(), "MK", "AL")
        run.processor = Processor(Settings(), border, 4, risk=run.stage, encode=encode)
        key = b"SK1234AB"
        raw = crossing("mk-1", "EXIT")
        value = codec.encode("raw", {**raw, "event_time": parse_time(raw["event_time"])})
        result = run.processor.process([InRecord(key, value, [], "raw", partition_for(key, 4), 1)],
                                       T0 + timedelta(minutes=5), lambda _p: None)
        outputs.append([(o.stream, o.value) for o in result.outputs
                        if o.stream == "risk" or (o.stream.startswith("share.")
                                                  and b"risk" in (o.value or b"")[5:20])])
    fast, general = outputs
    assert fast == general and len(fast) == 3  # the record, mk-customs and al-customs copies
