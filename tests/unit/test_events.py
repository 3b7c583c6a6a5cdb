from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bordersync.border import load_border_config
from bordersync.events import InvalidEvent, validate
from tests.helpers import crossing, inspection

BORDER = load_border_config()


def test_valid_crossing_time_is_utc() -> None:
    event = validate(crossing(), BORDER)
    assert event["event_time"] == datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def test_valid_inspection() -> None:
    assert validate(inspection(), BORDER)["result"] == "CLEARED"


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"colour": "red"}, "colour", "unknown field"),
        ({"gross_mass_kg": "24t"}, "gross_mass_kg", "expected an integer"),
        ({"gross_mass_kg": True}, "gross_mass_kg", "expected an integer"),
        ({"direction": "SIDEWAYS"}, "direction", "unknown code"),
        ({"vehicle_type": "TANK"}, "vehicle_type", "unknown code"),
        ({"admin": "AL"}, "post", "does not belong"),
        ({"post": "XX999"}, "post", "unknown post"),
        ({"event_time": "2026-11-25T10:00:00"}, "event_time", "without UTC offset"),
        ({"event_time": "yesterday"}, "event_time", "not an ISO 8601"),
        ({"seals": ["S1", 2]}, "seals", "list of non-empty strings"),
        ({"nationality": "Macedonia"}, "nationality", "alpha-2"),
        ({"plate": ""}, "plate", "must not be empty"),
    ],
)
def test_rejections_name_field_and_reason(change: dict[str, object], field: str, reason: str) -> None:
    with pytest.raises(InvalidEvent) as err:
        validate(crossing(**change), BORDER)
    assert err.value.field == field
    assert reason in err.value.reason


def test_missing_required_field() -> None:
    event = crossing()
    del event["terminal_id"]
    with pytest.raises(InvalidEvent, match="terminal_id: required field missing"):
        validate(event, BORDER)


def test_inspection_fields_not_allowed_on_crossing() -> None:
    with pytest.raises(InvalidEvent, match="result"):
        validate(crossing(result="CLEARED"), BORDER)


def test_not_an_object() -> None:
    with pytest.raises(InvalidEvent, match="expected a JSON object"):
        validate([1, 2], BORDER)
