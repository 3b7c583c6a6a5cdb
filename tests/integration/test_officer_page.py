"""The officer page in a real browser (Debian's headless Chromium) against the real API."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bordersync.border import load_border_config
from bordersync.settings import Settings
from consumers.bench import journey, produce
from consumers.readmodel import AgencyContext
from tests.conftest import ROOT, Proc, wait_for
from tests.integration.test_api import get, start_api

CHROMIUM = "/usr/bin/chromium"
AGENCY = "al-customs"
CTX = AgencyContext.of(load_border_config(), AGENCY)


def chromium(tmp_path: Path, *args: str) -> str:
    profile = tmp_path / "chromium-profile"
    argv = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
            "--virtual-time-budget=5000", *args]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_officer_page_shows_journey_inspections_alerts_and_enroute(
        settings: Settings, spawn: Callable[..., Proc], tmp_path: Path) -> None:
    at = datetime.now(UTC) - timedelta(minutes=40)
    produce(settings, AGENCY, [*journey(CTX, "SK1234AB", "o1", at),
                               *journey(CTX, "BT555XY", "o2", at + timedelta(minutes=25),
                                        arrived=False)])
    consumer = spawn(["consume", "--agency", AGENCY], settings)
    base = start_api(settings, spawn)
    wait_for(lambda: get(f"{base}/vehicles/SK1234AB")[0] == 200
             and get(f"{base}/vehicles/BT555XY")[0] == 200 and consumer.popen.poll() is None,
             60, "the consumer to fill the read model")

    artifacts = ROOT / "artifacts"
    artifacts.mkdir(exist_ok=True)
    shot = artifacts / "officer-page.png"
    shot.unlink(missing_ok=True)
    # The officer types the plate as they would: lower case, spaces, a Cyrillic look-alike.
    url = f"{base}/?plate=sk%201234%20%D0%B0b"
    dom = chromium(tmp_path, f"--screenshot={shot}", "--window-size=1200,900", "--dump-dom", url)
    assert 'id="vehicle-plate">SK1234AB<' in dom, dom[-3000:]
    assert 'id="vehicle-status">arrived<' in dom
    assert 'data-direction="EXIT"' in dom and 'data-direction="ENTRY"' in dom
    assert "transit 12 min" in dom
    assert "XRAY" in dom and "CLEARED" in dom  # recognised from the exit side
    assert "DISCREPANCY" in dom and "gross_mass_kg" in dom
    assert 'data-plate="BT555XY"' in dom  # live list of vehicles on their way
    assert 'data-plate="SK1234AB"' not in dom  # arrived: no longer on its way
    assert shot.exists() and shot.stat().st_size > 10_000
