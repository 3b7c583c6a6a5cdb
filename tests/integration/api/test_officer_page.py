"""The officer page in a real browser (Debian's headless Chromium) against the live API.

Screenshots of the main views at 1366x768 go to artifacts/ (officer-signin.png,
officer-vehicle.png, officer-risk.png, officer-xss.png) to be looked at by a person.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bordersync.settings import Settings
from tests.conftest import ROOT, Proc
from tests.integration.api.support import CTX, risk, seed, start_api, token
from tooling.bench.consumers import journey

CHROMIUM = "/usr/bin/chromium"
SCREEN = "--window-size=1366,768"
TITLE = "bordersync — officer view"


def chromium(tmp_path: Path, *args: str) -> str:
    profile = tmp_path / "chromium-profile"
    argv = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
            "--virtual-time-budget=5000", *args]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def shot(name: str) -> Path:
    artifacts = ROOT / "artifacts"
    artifacts.mkdir(exist_ok=True)
    path = artifacts / name
    path.unlink(missing_ok=True)
    return path


def section(dom: str, element_id: str) -> str:
    """The serialised DOM from the element with ``element_id`` to the end of its section."""
    start = dom.index(f'id="{element_id}"')
    return dom[start:dom.index("</section>", start)]


def test_officer_page_signs_in_and_shows_journey_inspections_alerts_and_enroute(
        api_settings: Settings, spawn: Callable[..., Proc], tmp_path: Path) -> None:
    at = datetime.now(UTC) - timedelta(minutes=40)
    seed(api_settings, [*journey(CTX, "SK1234AB", "o1", at),
                        *journey(CTX, "BT555XY", "o2", at + timedelta(minutes=25), arrived=False)])
    api = start_api(api_settings, spawn)
    picture = shot("officer-vehicle.png")
    # The officer types the plate as they would: lower case, spaces, a Cyrillic look-alike; the
    # demo hands the token over in the fragment.
    url = f"{api.base}/?plate=sk%201234%20%D0%B0b#token={token(api_settings, officer='ana')}"
    dom = chromium(tmp_path, f"--screenshot={picture}", SCREEN, "--dump-dom", url)
    assert 'id="vehicle-plate">SK1234AB<' in dom, dom[-3000:]
    assert 'id="vehicle-status">arrived<' in dom
    assert 'data-direction="EXIT"' in dom and 'data-direction="ENTRY"' in dom
    assert "transit 12 min" in dom
    assert "XRAY" in dom and "CLEARED" in dom  # recognised from the exit side
    assert "DISCREPANCY" in dom and "gross_mass_kg" in dom
    assert 'data-plate="BT555XY"' in dom  # live list of vehicles on their way
    assert 'data-plate="SK1234AB"' not in dom  # arrived: no longer on its way
    assert "officer ana" in dom and '<section id="signin" hidden=""' in dom
    assert picture.exists() and picture.stat().st_size > 10_000


def test_officer_page_shows_a_red_pre_arrival_assessment_before_the_vehicle_arrives(
        api_settings: Settings, spawn: Callable[..., Proc], tmp_path: Path) -> None:
    at = datetime.now(UTC) - timedelta(minutes=5)
    green = datetime.now(UTC) - timedelta(minutes=2)
    seed(api_settings, [*journey(CTX, "BT777RR", "r1", at, arrived=False),
                        risk(CTX, "BT777RR", "r1", at),
                        *journey(CTX, "BT888GG", "g1", green, arrived=False),
                        risk(CTX, "BT888GG", "g1", green, channel="GREEN", operator="MK-AEO-17",
                             summary="green lane: operator MK-AEO-17 (AEO of MK, mutually "
                                     "recognised), clean history")])
    api = start_api(api_settings, spawn)
    picture = shot("officer-risk.png")
    dom = chromium(tmp_path, f"--screenshot={picture}", SCREEN, "--dump-dom",
                   f"{api.base}/?plate=bt%20777%20rr#token={token(api_settings)}")
    assert 'id="vehicle-status">en route<' in dom, dom[-3000:]
    card = section(dom, "risk")
    assert 'data-channel="RED"' in card and 'data-stage="PRE_ARRIVAL"' in card
    assert "RED · physical control" in card  # the channel in words, not colour alone
    assert "Pre-arrival assessment by MK (the other side)" in card
    assert "physical control: trailer on the MK watchlist; truck with declaration" in card
    assert "trailer on the MK watchlist" in card and "profile watch@2, owner MK" in card
    assert "profile unsealed-declared-truck@1, owner AL" in card
    assert "score 100 / 100" in card and "Expected arrival: " in card
    assert (at + timedelta(minutes=10)).strftime("%Y-%m-%d %H:%M UTC") in card
    assert "AEO operator" not in card  # not in the green lane
    # The list of vehicles on their way carries each one's pre-arrival channel.
    enroute = dom[dom.index('id="enroute"'):]
    assert "risk RED" in enroute and "risk GREEN" in enroute
    assert picture.exists() and picture.stat().st_size > 10_000
    dom = chromium(tmp_path, "--dump-dom", f"{api.base}/?plate=BT888GG#token={token(api_settings)}")
    card = section(dom, "risk")
    assert 'data-channel="GREEN"' in card and "GREEN · green lane" in card
    assert "AEO operator: <strong>MK-AEO-17</strong>" in card


def test_officer_page_without_a_valid_token_asks_to_sign_in(
        api_settings: Settings, spawn: Callable[..., Proc], tmp_path: Path) -> None:
    api = start_api(api_settings, spawn)
    picture = shot("officer-signin.png")
    dom = chromium(tmp_path, f"--screenshot={picture}", SCREEN, "--dump-dom", f"{api.base}/")
    assert '<section id="signin">' in dom and '<main id="app" hidden=""' in dom
    assert 'id="enroute"></ul>' in dom  # nothing was read without a token
    expired = token(api_settings, ttl=60, now=datetime.now(UTC).timestamp() - 3600)
    dom = chromium(tmp_path, "--dump-dom", f"{api.base}/#token={expired}")
    assert '<section id="signin">' in dom and "expired or the token is not valid" in dom
    assert picture.exists() and picture.stat().st_size > 5_000


def _without_discrepancies(records: list[tuple[str, dict[str, Any]]]) -> None:
    for _, share in records:
        if share["stream"] == "matched":
            share["record"]["discrepancies"] = []


def test_matched_vehicle_without_discrepancies_shows_no_stray_null(
        api_settings: Settings, spawn: Callable[..., Proc], tmp_path: Path) -> None:
    """Regression: the page printed `null` under the journey cards of a matched vehicle without
    discrepancies (replaceChildren turns a null child into the text "null")."""
    records = [r for r in journey(CTX, "KU700AA", "n1", datetime.now(UTC) - timedelta(hours=1))
               if r[1]["stream"] != "alerts"]
    _without_discrepancies(records)
    seed(api_settings, records)
    api = start_api(api_settings, spawn)
    dom = chromium(tmp_path, "--dump-dom",
                   f"{api.base}/?plate=KU700AA#token={token(api_settings)}")
    vehicle = section(dom, "vehicle")
    assert 'id="vehicle-status">arrived<' in vehicle and "transit 12 min" in vehicle
    assert 'id="discrepancies"' not in vehicle
    assert "null" not in re.sub(r"<[^>]*>", "\n", vehicle), vehicle


def test_xss_payloads_in_plates_and_findings_are_shown_as_text(
        api_settings: Settings, spawn: Callable[..., Proc], tmp_path: Path) -> None:
    evil_plate = "<svg/onload=document.title=1>"
    evil_text = "<img src=x onerror=\"document.title='pwned'\"><script>document.title='p'</script>"
    at = datetime.now(UTC) - timedelta(minutes=30)
    looked_up = journey(CTX, "XS100", "x1", at)
    for _, share in looked_up:
        rec = share["record"]
        if share["stream"] == "inspections":
            rec["findings"] = evil_text
        if share["stream"] == "alerts":
            rec["detail"] = evil_text
        for inspection in rec.get("inspections") or []:  # the matched pair's copy
            inspection["findings"] = evil_text
    evil_hit = {"profile_id": evil_text, "profile_version": 1, "owner": evil_text,
                "rule": "watchlist", "channel": "RED", "weight": 100, "reason": evil_text}
    seed(api_settings, [*looked_up, *journey(CTX, evil_plate, "x2", at, arrived=False),
                        risk(CTX, "XS100", "x1", at, hits=[evil_hit], summary=evil_text),
                        risk(CTX, "XS100", "x1", at, stage="ENTRY", channel=evil_text,
                             summary=evil_text, operator=evil_text)])
    api = start_api(api_settings, spawn)
    picture = shot("officer-xss.png")
    dom = chromium(tmp_path, f"--screenshot={picture}", SCREEN, "--dump-dom",
                   f"{api.base}/?plate=XS100#token={token(api_settings)}")
    assert f"<title>{TITLE}</title>" in dom  # no injected script ran
    assert 'id="vehicle-plate">XS100<' in dom
    assert "&lt;img src=x onerror=" in dom and "&lt;script&gt;document.title" in dom
    assert "&lt;SVG/ONLOAD=DOCUMENTTITLE=1&gt;" in dom  # the plate, normalised, as text
    card = section(dom, "risk")  # summary, reasons, profile, owner and channel as text
    assert card.count("&lt;img src=x onerror=") >= 5 and 'data-channel="UNKNOWN"' in card
    elements = re.sub(r'="[^"]*"', '=""', dom).lower()  # attribute values are text too
    assert "<img" not in elements and "<svg" not in elements
    assert dom.count("<script>") == 1  # only the page's own
