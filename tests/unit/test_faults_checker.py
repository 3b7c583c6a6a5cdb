"""The fault schedule and the history checker of ``bordersync soak`` (pure)."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from tooling.faults import KINDS, WORKERS, Observed, check, converged, plan_faults, schedule_seconds

TRUTH: dict[str, Any] = {
    "forwarded": {"crossings": 3, "inspections": 1},
    "physical_duplicates": [{"forwarded": "x1", "dropped": ["x1b"]}],
    "pairs": [{"exit_event_id": "x1", "entry_event_id": "n1"}],
    "alerts": [{"type": "UNMATCHED_EXIT", "event_ids": ["x2"]},
               {"type": "INSPECTION_HOLD", "event_ids": ["i1"]}],
}
ACCEPTED = ["x1", "x1", "x1b", "n1", "x2", "i1"]


def crossing(event_id: str, **extra: Any) -> dict[str, Any]:
    return {"event_id": event_id, "plate": "SK1234AB", **extra}


def clean() -> Observed:
    return Observed(
        crossings=[crossing("x1"), crossing("n1"), crossing("x2")],
        inspections=[crossing("i1")],
        matched=[{"exit_event_id": "x1", "entry_event_id": "n1", "matched_at": "t1"}],
        alerts=[{"alert_id": "a1", "type": "UNMATCHED_EXIT", "event_ids": ["x2"]},
                {"alert_id": "a2", "type": "INSPECTION_HOLD", "event_ids": ["i1"]}],
        shares={"al": [("crossings", "x1"), ("crossings", "n1"), ("matched", "x1|n1")]},
        readmodel={"al": {"crossings": 2, "matched": 1}},
    )


def test_a_clean_history_passes() -> None:
    report = check(TRUTH, ACCEPTED, clean())
    assert report["ok"], report
    assert (report["accepted"], report["lost"], report["duplicated"], report["redelivered"]) == (
        5, 0, 0, 0)
    assert converged(TRUTH, clean())


def test_redelivered_copies_are_counted_but_are_not_duplicates() -> None:
    seen = clean()
    seen.crossings.append(crossing("x1"))
    seen.matched.append({"exit_event_id": "x1", "entry_event_id": "n1", "matched_at": "t2"})
    seen.alerts.append({"alert_id": "a1", "type": "UNMATCHED_EXIT", "event_ids": ["x2"]})
    seen.shares["al"].append(("crossings", "x1"))
    report = check(TRUTH, ACCEPTED, seen)
    assert report["ok"], report
    assert report["redelivered"] == 4 and report["duplicated"] == 0


def test_redelivered_copies_had_no_examples_so_nobody_could_tell_which_stream_carried_them() -> None:
    """Soak seed 21: the exactly-once engine reported ``redelivered: 83`` and nothing else."""
    seen = clean()
    seen.crossings += [crossing("x1"), crossing("x1")]
    seen.inspections.append(crossing("i1"))
    seen.matched.append({"exit_event_id": "x1", "entry_event_id": "n1", "matched_at": "t2"})
    seen.alerts.append({"alert_id": "a1", "type": "UNMATCHED_EXIT", "event_ids": ["x2"]})
    seen.shares["al"] += [("crossings", "x1"), ("matched", "x1|n1")]
    seen.shares["gr"] = [("alerts", "alerts:a2"), ("alerts", "alerts:a2")]  # as the consumer keys
    seen.readmodel["gr"] = {"alerts": 1}
    report = check(TRUTH, ACCEPTED, seen)
    assert report["redelivered"] == 8 and report["ok"], report
    assert report["redelivered_by_stream"] == {
        "alerts": 1, "crossings": 2, "inspections": 1, "matched": 1, "share.al": 2, "share.gr": 1}
    assert report["examples"]["redelivered"] == {
        "crossings:x1": 3, "alerts:UNMATCHED_EXIT:a1": 2, "inspections:i1": 2,
        "matched:x1|n1": 2, "share.al:crossings:x1": 2, "share.al:matched:x1|n1": 2,
        "share.gr:alerts:a2": 2}


def test_redelivered_examples_take_every_stream_in_turn_up_to_ten() -> None:
    seen = clean()
    seen.crossings += [crossing("x1"), crossing("n1"), crossing("x2")] * 5
    seen.alerts.append({"alert_id": "a2", "type": "INSPECTION_HOLD", "event_ids": ["i1"]})
    report = check(TRUTH, ACCEPTED, seen)
    examples = report["examples"]["redelivered"]
    assert len(examples) == 4 and "alerts:INSPECTION_HOLD:a2" in examples
    assert report["redelivered_by_stream"] == {"crossings": 15, "alerts": 1}
    many = clean()
    many.crossings += [crossing(f"c{i}") for i in range(20)] * 2
    assert len(check(TRUTH, ACCEPTED, many)["examples"]["redelivered"]) == 10
    assert check(TRUTH, ACCEPTED, clean())["examples"]["redelivered"] == {}


def test_a_missing_event_is_lost() -> None:
    seen = clean()
    seen.crossings.pop()  # x2
    report = check(TRUTH, ACCEPTED, seen)
    assert not report["ok"]
    assert report["lost"] == 1 and report["examples"]["lost"] == ["x2"]
    assert not converged(TRUTH, seen)


def test_duplicate_effects_are_counted() -> None:
    seen = clean()
    seen.crossings.append(crossing("x1b"))  # a dropped physical duplicate forwarded anyway
    seen.crossings.append(crossing("n1", gross_mass_kg=5))  # a second version under one id
    seen.matched.append({"exit_event_id": "x2", "entry_event_id": "n1"})  # n1 paired twice
    seen.readmodel["al"]["crossings"] = 3  # the sink applied a re-delivery
    report = check(TRUTH, ACCEPTED, seen)
    assert report["duplicated"] == 4, report
    assert report["matched_extra"] == 1 and not report["ok"]


def test_unmatched_alert_for_a_paired_event_is_an_artefact_not_an_error() -> None:
    seen = clean()
    seen.alerts.append({"alert_id": "a3", "type": "UNMATCHED_ENTRY", "event_ids": ["n1"]})
    report = check(TRUTH, ACCEPTED, seen)
    assert report["ok"] and report["unmatched_artefacts"] == 1
    seen.alerts.append({"alert_id": "a4", "type": "DISCREPANCY", "event_ids": ["x1", "n1"]})
    assert check(TRUTH, ACCEPTED, seen)["alerts_extra"] == 1


def test_a_read_model_behind_its_topic_is_not_converged() -> None:
    seen = clean()
    seen.readmodel["al"]["crossings"] = 1
    assert not converged(TRUTH, seen)
    assert check(TRUTH, ACCEPTED, seen)["readmodel_missing"] == 1


def test_the_schedule_is_deterministic_and_has_rebalance_faults() -> None:
    faults = plan_faults(9, 50, ["al-customs"])
    assert faults == plan_faults(9, 50, ["al-customs"])
    assert faults != plan_faults(10, 50, ["al-customs"])
    assert len(faults) == 50 and schedule_seconds(faults) > 0
    assert {f.signal for f in faults} == {"SIGKILL", "SIGTERM", "SIGSTOP", "SHUTDOWN"}
    assert {f.target for f in faults} == {*WORKERS, "consumer-al-customs", "publisher", "redis",
                                          "broker-1", "broker-2", "broker-3"}
    for before, fault in pairwise(faults):
        if fault.rebalance:
            assert before.kind == "worker" and fault.kind == "worker"
            assert fault.target != before.target
    assert any(f.rebalance for f in faults)


def test_a_short_schedule_has_every_kind_of_fault() -> None:
    for seed in range(20):
        faults = plan_faults(seed, 8, ["al-customs", "mk-border-police"])
        assert {f.kind for f in faults} == set(KINDS)
        assert all(f.signal == "SIGSTOP" for f in faults if f.kind == "pause")
