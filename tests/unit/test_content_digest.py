"""``content_digest`` builds the canonical JSON itself (issue 19); the digest is kept in every
vehicle's state, so it must equal the JSON encoder's for every event — non-ASCII, control
characters, quotes and backslashes included — and fall back to the encoder for anything else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bordersync.events import FIELD_KINDS
from streams.logic.dedup import _slow_digest, content_digest
from tests.helpers import crossing
from tests.unit.streams_support import event

PINNED = "a40e7ce0584b6efc"  # computed at 105f284
text = st.text(max_size=20)
value = st.one_of(
    text, st.integers(0, 2**31 - 1), st.lists(text, max_size=4),
    st.datetimes(timezones=st.just(UTC)),
    # not produced by validation: the encoder's path, same digest
    st.integers(), st.booleans(), st.none(), st.floats(allow_nan=False),
    st.datetimes(timezones=st.just(timezone(timedelta(hours=2)))), st.lists(st.integers()),
)


@given(st.dictionaries(text, value, max_size=14))
def test_the_same_digest_as_the_json_encoder(doc: dict[str, Any]) -> None:
    assert content_digest(doc) == _slow_digest(doc)


def test_a_validated_event_digest_is_unchanged() -> None:
    """Pinned: the digest of this event as the code before issue 19 computed it."""
    e = event(crossing(event_id="d-1", plate="ŠK 123 ĐŽ", seals=['a"b\\c', "\x01\n"],
                       event_time=datetime(2026, 1, 2, 3, 4, 5, 678000, UTC).isoformat()))
    assert content_digest(e) == _slow_digest(e) == PINNED



@given(st.dictionaries(st.sampled_from(sorted(FIELD_KINDS)), value, min_size=1, max_size=14))
def test_the_generated_text_of_event_fields_is_the_json_encoders(doc: dict[str, Any]) -> None:
    """Events' field names take the text generated per field order (issue 19): any value of a
    type validation would not give falls back, the digest is the encoder's either way."""
    assert content_digest(doc) == content_digest(doc) == _slow_digest(doc)
