"""The production profile (issue #16): signatures could be switched off by default and compose
never enabled them; a validly signed record older than the dedup TTL could be replayed as new."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from bordersync.security.signing import TrustStore
from bordersync.settings import Settings
from streams.verify import RecordVerifier
from tests.unit.streams_support import T0
from tests.unit.test_processor_signatures import MK, TRUST, dead, signed
from tests.unit.test_processor_signatures import harness as signed_harness


def test_signatures_were_optional_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BORDERSYNC_PROFILE", "production")
    assert Settings().require_signatures
    monkeypatch.setenv("BORDERSYNC_REQUIRE_SIGNATURES", "false")
    with pytest.raises(ValidationError, match="production requires signatures"):
        Settings()
    monkeypatch.delenv("BORDERSYNC_PROFILE")
    assert not Settings().require_signatures  # development keeps its default


def test_production_worker_dead_letters_unsigned_records(tmp_path: Path) -> None:
    settings = Settings(profile="production", home=tmp_path)
    verifier = RecordVerifier.from_settings(settings)
    assert verifier.required and verifier.max_age_seconds == settings.dedup_ttl_seconds
    h = signed_harness(TrustStore())
    h.processor.verifier = verifier
    out = h.run([signed(h, None, event_id="unsigned")])
    assert [stage for stage, _ in dead(out)] == ["signature"]
    assert "crossings" not in out


def test_signed_replay_older_than_the_dedup_ttl_was_accepted_as_new() -> None:
    h = signed_harness(TRUST)
    ttl = h.settings.dedup_ttl_seconds
    h.processor.verifier = RecordVerifier(lambda: TRUST, True, max_age_seconds=ttl)
    # Signed long ago, validly; its id has left the dedup state: refused by its event time.
    h.now = T0 + timedelta(seconds=ttl + 3600)
    out = h.run([signed(h, MK, event_id="replayed")])
    assert "crossings" not in out
    [(stage, error)] = dead(out)
    assert stage == "replay" and "older than the dedup TTL" in error
    # Within the TTL the same record flows (dedup would catch a replay of it).
    h2 = signed_harness(TRUST)
    h2.processor.verifier = RecordVerifier(lambda: TRUST, True, max_age_seconds=ttl)
    assert [r["event_id"] for r in h2.run([signed(h2, MK, event_id="fresh")])["crossings"]] == \
        ["fresh"]
