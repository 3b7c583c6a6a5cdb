"""``validate`` decides common valid values inline (issue 19: the list check was a large share of
validation) and leaves everything else to ``_check_type``: the inline verdicts must never accept
what the full check refuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from bordersync.border import load_border_config
from bordersync.events import (
    FIELD_KINDS,
    MAX_LIST,
    MAX_STR,
    InvalidEvent,
    _check_type,
    _plain_list,
    _validate_full,
    validate,
)
from bordersync.settings import Settings
from streams.logic.dedup import content_digest, validated
from tests.helpers import crossing, inspection

BORDER = load_border_config(Settings().border_config)

values = st.one_of(
    st.lists(st.text(max_size=MAX_STR + 2), max_size=4),
    st.lists(st.text(alphabet="ab ", max_size=MAX_STR + 2), max_size=MAX_LIST + 2),
    st.lists(st.text(alphabet="ab", min_size=MAX_STR, max_size=MAX_STR), min_size=MAX_LIST - 1,
             max_size=MAX_LIST),
    st.lists(st.one_of(st.text(max_size=3), st.integers(), st.none()), max_size=3),
    st.text(), st.integers(), st.tuples(st.text()),
)


@given(values)
def test_a_list_accepted_inline_passes_the_full_check(value: object) -> None:
    if _plain_list(value):
        _check_type("seals", value)  # raises InvalidEvent if the inline verdict were wrong


@given(st.one_of(st.integers(), st.booleans(), st.floats(), st.text()))
def test_an_integer_accepted_inline_passes_the_full_check(value: object) -> None:
    inline = type(value) is int and 0 <= value <= 2**31 - 1
    try:
        _check_type("gross_mass_kg", value)
    except InvalidEvent:
        assert not inline
    else:
        assert inline


_EVENT_VALUES = st.one_of(
    st.text(max_size=4), st.text(alphabet="A", min_size=MAX_STR, max_size=MAX_STR + 1),
    st.sampled_from(["crossing", "inspection", "EXIT", "TRUCK", "XRAY", "HOLD", "AEO", "MK", "AL",
                     "mk", "MK\n", "XX", "M",
                     "MKKJF01", "ALQTH01", " ", "ш"]),
    st.integers(-1, 2**31), st.booleans(), st.none(), st.lists(st.text(max_size=3), max_size=3),
    st.datetimes(timezones=st.just(UTC)), st.datetimes(timezones=st.just(timezone(timedelta(hours=2)))),
    st.datetimes(), st.just("2026-01-01T00:00:00Z"),
)


@given(st.data())
def test_the_generated_plan_decides_as_the_field_by_field_check(data: st.DataObject) -> None:
    """``validate``'s generated check per field order (issue 19) returns what the full check
    returns and refuses what it refuses, with the same reason."""
    base = dict(crossing() if data.draw(st.booleans()) else inspection())
    base["event_time"] = datetime(2026, 1, 1, tzinfo=UTC)
    names = data.draw(st.permutations(list(base)))
    doc = {n: base[n] for n in names}
    for name in data.draw(st.lists(st.sampled_from(names), max_size=3)):
        doc[name] = data.draw(_EVENT_VALUES)
    for name in data.draw(st.lists(st.sampled_from(sorted(FIELD_KINDS)), max_size=2)):
        doc[name] = data.draw(_EVENT_VALUES)
    outcomes = []
    for check in (validate, _validate_full):
        try:
            outcomes.append(("ok", list(check(doc, BORDER).items())))
        except InvalidEvent as exc:
            outcomes.append(("refused", str(exc)))
    assert outcomes[0] == outcomes[1]


@given(st.data())
def test_validated_is_validate_then_content_digest(data: st.DataObject) -> None:
    """``streams.logic.dedup.validated`` checks and digests in one generated pass (issue 19):
    the same event, digest and refusal as ``validate`` then ``content_digest``."""
    base = dict(crossing() if data.draw(st.booleans()) else inspection())
    base["event_time"] = datetime(2026, 1, 1, 0, 0, 0, 123000, tzinfo=UTC)
    base["plate"] = data.draw(st.sampled_from(["SK 1234 AB", 'Š"K\\1', "\x01\n"]))
    names = data.draw(st.permutations(list(base)))
    doc = {n: base[n] for n in names}
    for name in data.draw(st.lists(st.sampled_from(names), max_size=2)):
        doc[name] = data.draw(_EVENT_VALUES)
    outcomes = []
    for check in (validated, lambda d, b: (e := validate(d, b), content_digest(e))):
        try:
            event, digest = check(doc, BORDER)
            outcomes.append(("ok", list(event.items()), digest))
        except InvalidEvent as exc:
            outcomes.append(("refused", str(exc), None))
    assert outcomes[0] == outcomes[1]
