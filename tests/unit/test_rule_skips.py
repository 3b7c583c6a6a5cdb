"""The processor skips rules by the table's flags (streams.rules.ON_CLEAN_PAIRS, ON_FIRST_EVENT,
find_discrepancies' equal-sides shortcut): each skip is safe only while the rules it skips find
nothing in that case. These tests hold every rule to its flag, so a rule that breaks the
assumption fails here rather than silently losing alerts."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from bordersync.border import load_border_config
from streams.logic.events import crossing_event
from streams.logic.model import Pending, Seen, VehicleState, from_epoch_ms, to_epoch_ms
from streams.rules import ALERT_RULES, FIELD_RULES, Context, Trigger

BORDER = load_border_config()
CROSSING_OF_POST = {p: c for c in BORDER.crossings for p in c.sides.values()}
T = datetime(2026, 11, 25, 9, tzinfo=UTC)


def _pending(eid: str, direction: str, **kw: object) -> Pending:
    return replace(Pending(eid, "MK", "MKKJF01", "kjafasan-qafe-thane", direction,
                           to_epoch_ms(T), to_epoch_ms(T), "TRUCK"), **kw)


def test_rules_needing_discrepancies_find_nothing_in_a_clean_pair() -> None:
    flagged = [r for r in ALERT_RULES if r.needs_discrepancies]
    assert flagged, "the table flags a rule (else this test proves nothing)"
    assert all(r.trigger is Trigger.MATCHED for r in flagged)
    # sides that differ on every field: only the discrepancies found decide
    exit_ = _pending("x1", "EXIT", gross_mass_kg=10_000, seals=["a"], passengers=1)
    entry = _pending("n1", "ENTRY", gross_mass_kg=30_000, seals=["b"], passengers=2)
    for rule in flagged:
        assert rule.check(Context(exit_=exit_, entry=entry, discrepancies=())) is None
        found = ({"field": "seals", "exit_value": "a", "entry_value": "b"},)
        assert rule.check(Context(exit_=exit_, entry=entry, discrepancies=found)) is not None


def _crossing_ctx(state: VehicleState, event_id: str, post: str, t: datetime) -> Context:
    event = {"event_id": event_id, "kind": "crossing", "admin": "MK", "post": post,
             "event_time": t, "plate": "SK1234AB", "nationality": "MK", "terminal_id": "mk-1",
             "direction": "EXIT", "vehicle_type": "TRUCK"}
    return Context(event=crossing_event(event), crossing=CROSSING_OF_POST[post].id, state=state,
                   crossing_of_post=CROSSING_OF_POST.get)


def test_rules_needing_an_earlier_event_find_nothing_on_a_vehicles_first() -> None:
    flagged = [r for r in ALERT_RULES if r.needs_earlier_event]
    assert flagged, "the table flags a rule (else this test proves nothing)"
    assert all(r.trigger is Trigger.CROSSING for r in flagged)
    ts = to_epoch_ms(T)
    only_itself = VehicleState(seen={"tab-1": Seen("d", ts, ts + 600_000, "MKTAB01|EXIT")})
    # an earlier crossing 10 minutes before at another joint crossing: the rule's case
    with_other = VehicleState(seen={"kjf-1": Seen("c", ts, ts, "MKKJF01|EXIT"),
                                    **only_itself.seen})
    t = from_epoch_ms(ts + 600_000)
    for rule in flagged:
        assert rule.check(_crossing_ctx(only_itself, "tab-1", "MKTAB01", t)) is None
        assert rule.check(_crossing_ctx(with_other, "tab-1", "MKTAB01", t)) is not None


_texts = st.one_of(st.none(), st.text(max_size=8))
_lists = st.one_of(st.none(), st.lists(st.text(max_size=4), max_size=4))
_ints = st.one_of(st.none(), st.integers(min_value=0, max_value=10**6))


@given(mass=_ints, seals=_lists, trailer=_texts, containers=_lists, passengers=_ints,
       tolerance=st.floats(min_value=0.0, max_value=100.0))
def test_field_rules_find_equal_values_agree(mass: int | None, seals: list[str] | None,
                                             trailer: str | None, containers: list[str] | None,
                                             passengers: int | None, tolerance: float) -> None:
    """find_discrepancies asks no field rule when both sides' values are equal (the common pair):
    every rule must then answer None itself, at any non-negative tolerance."""
    exit_ = _pending("x1", "EXIT", gross_mass_kg=mass, seals=seals, trailer_plate=trailer,
                     container_ids=containers, passengers=passengers)
    entry = replace(_pending("n1", "ENTRY"), **{r.field: copy.deepcopy(getattr(exit_, r.field))
                                                for r in FIELD_RULES})
    for rule in FIELD_RULES:
        assert rule.compare(exit_, entry, tolerance) is None, rule.field
