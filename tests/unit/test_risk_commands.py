"""CLI pieces of `bordersync risk` that need no broker: profile checks against the border
configuration, watchlist keys on disk."""

from __future__ import annotations

import stat
from pathlib import Path

from bordersync.settings import Settings
from streams.risk.commands import _unknown_crossings
from streams.risk.feed import watch_key, watch_keys
from tests.unit.risk_support import profile


def test_a_profile_must_name_crossings_between_its_parties(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    assert _unknown_crossings(profile(), settings) is None
    assert _unknown_crossings(profile(crossings=["kjafasan-qafe-thane"]), settings) is None
    assert "not between" in str(_unknown_crossings(profile(crossings=["tabanovce-presevo"]),
                                                   settings))
    assert "no crossing between" in str(_unknown_crossings(profile(parties=["AL", "RS"]),
                                                           settings))


def test_watchlist_keys_are_created_once_private_and_found_by_the_worker(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    key = watch_key(settings, "MK")
    assert len(key) == 32 and watch_key(settings, "MK") == key
    path = tmp_path / "keys" / "watchlist" / "MK.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert watch_keys(settings) == {"MK": key}
