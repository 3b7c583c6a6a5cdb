"""The officer page worked with the keyboard only, in headless Chromium driven over DevTools:
focus starts in the plate field, any spelling + Enter looks up, `/` comes back to the field,
Esc clears it, Tab reaches the list of vehicles on their way and Enter opens one, and the list
pages on with its "Show more" button."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

from bordersync.settings import Settings
from tests.conftest import Proc
from tests.integration.api.cdp import Browser, launch
from tests.integration.api.support import CTX, seed, start_api, token
from tooling.bench.consumers import journey

ACTIVE = "document.activeElement"


async def officer_session(ws_url: str) -> None:
    async with aiohttp.ClientSession() as session, session.ws_connect(ws_url, max_msg_size=0) as ws:
        page = Browser(ws)
        await page.until(f"{ACTIVE} && {ACTIVE}.id === 'plate' && "
                         "document.querySelectorAll('#enroute li[data-plate]').length > 0")
        await page.type("sk 1234 ав")  # lower case, spaces, Cyrillic twins
        await page.key("Enter")
        assert await page.until("document.getElementById('vehicle-plate')?.textContent") == "SK1234AB"
        assert await page.js("document.getElementById('vehicle-status').textContent") == "arrived"

        await page.key("Tab")  # to the Search button
        assert await page.js(f"{ACTIVE}.tagName") == "BUTTON"
        await page.key("/")
        assert await page.js(f"{ACTIVE}.id") == "plate"
        await page.key("Escape")
        assert await page.js("document.getElementById('plate').value") == ""

        await page.key("Tab")
        await page.key("Tab")  # past the Search button: the newest vehicle on its way
        first = await page.js(f"{ACTIVE}.dataset.plate")
        assert first == "EN055", first
        await page.key("Enter")
        assert await page.until(
            f"document.getElementById('vehicle-plate')?.textContent === '{first}'")
        assert await page.js("document.getElementById('vehicle-status').textContent") == "en route"

        assert await page.js("document.querySelectorAll('#enroute li[data-plate]').length") == 50
        await page.js("document.getElementById('enroute-more').focus()")
        await page.key("Enter")
        await page.until("document.querySelectorAll('#enroute li[data-plate]').length === 56")
        assert await page.js("document.getElementById('enroute-more').hidden") is True


def test_officer_works_the_page_with_the_keyboard_only(
        api_settings: Settings, spawn: Callable[..., Proc], tmp_path: Path) -> None:
    at = datetime.now(UTC) - timedelta(hours=3)
    records = journey(CTX, "SK1234AB", "k0", at)
    records += [r for i in range(56)
                for r in journey(CTX, f"EN{i:03d}", f"k{i + 1}", at + timedelta(minutes=i),
                                 arrived=False)]
    seed(api_settings, records)
    api = start_api(api_settings, spawn)
    browser, ws_url = launch(tmp_path / "profile", f"{api.base}/#token={token(api_settings)}")
    try:
        asyncio.run(officer_session(ws_url))
    finally:
        browser.terminate()
        browser.wait(15)
