from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
from pydantic import ValidationError

from bordersync.border import BorderConfig, load_border_config

REQUIRED = {
    ("MK", "AL"), ("MK", "RS"), ("MK", "GR"), ("MK", "XK"), ("MK", "BG"),
}


def test_shipped_crossings_cover_north_macedonias_neighbours() -> None:
    border = load_border_config()
    pairs = {tuple(sorted(c.sides, key=lambda a: a != "MK")) for c in border.crossings}
    assert pairs >= REQUIRED


def test_every_admin_has_customs_and_police_has_fewer_fields() -> None:
    border = load_border_config()
    names = {a.name for a in border.agencies}
    for admin in ("mk", "al", "rs", "gr", "xk", "bg"):
        assert f"{admin}-customs" in names
    police, customs = border.agency("mk-border-police"), border.agency("mk-customs")
    assert set(police.streams) < set(customs.streams)
    assert set(police.streams["crossings"]) < set(customs.streams["crossings"])


def test_agency_sees_crossings_of_its_admin() -> None:
    border = load_border_config()
    assert border.agency_crossings(border.agency("al-customs")) == {"kjafasan-qafe-thane"}


def test_post_code_in_two_crossings_is_rejected() -> None:
    data = {
        "crossings": [
            {"id": "a", "name": "A", "sides": {"MK": "P1", "AL": "P2"}, "window_minutes": 60},
            {"id": "b", "name": "B", "sides": {"MK": "P1", "RS": "P3"}, "window_minutes": 60},
        ],
        "agencies": [],
    }
    with pytest.raises(ValidationError, match="more than one crossing"):
        BorderConfig.model_validate(data)


def test_unknown_agency_error_lists_known() -> None:
    with pytest.raises(KeyError, match="mk-customs"):
        load_border_config().agency("nobody")


def test_agreement_naming_a_field_that_does_not_exist_is_refused_at_load(tmp_path: Path) -> None:
    """Regression: an agreement listing a field no shared record has was silently dropped."""
    import json

    shipped = json.loads(resources.files("bordersync").joinpath("data/border.json").read_text())
    shipped["agencies"][1]["streams"]["crossings"].append("platee")
    path = tmp_path / "border.json"
    path.write_text(json.dumps(shipped))
    with pytest.raises(ValueError, match=r"agency al-customs: stream crossings: field 'platee'"):
        load_border_config(path)
