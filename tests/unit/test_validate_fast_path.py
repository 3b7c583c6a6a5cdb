"""``validate`` decides common valid values inline (issue 19: the list check was a large share of
validation) and leaves everything else to ``_check_type``: the inline verdicts must never accept
what the full check refuses."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bordersync.events import MAX_LIST, MAX_STR, InvalidEvent, _check_type, _plain_list

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
