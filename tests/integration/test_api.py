"""HTTP JSON API over an agency's read model, served by `bordersync api`."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from bordersync.border import load_border_config
from bordersync.settings import Settings
from consumers.bench import journey, produce
from consumers.readmodel import AgencyContext
from tests.conftest import Proc, wait_for

AGENCY = "al-customs"
CTX = AgencyContext.of(load_border_config(), AGENCY)


def start_api(settings: Settings, spawn: Callable[..., Proc]) -> str:
    """Runs `bordersync api` on a free port and returns its base URL."""
    api = spawn(["api", "--agency", AGENCY, "--port", "0"], settings)
    found: list[str] = []

    def listening() -> bool:
        assert api.popen.poll() is None, api.output()
        found[:] = re.findall(r"api=(http://\S+)", api.output())
        return bool(found)

    wait_for(listening, 30, "the API to listen")
    return found[0]


def get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            status, body, kind = resp.status, resp.read(), resp.headers.get("Content-Type", "")
    except urllib.error.HTTPError as exc:
        status, body, kind = exc.code, exc.read(), exc.headers.get("Content-Type", "")
    return status, json.loads(body) if "json" in kind else body.decode()


def test_vehicles_alerts_enroute_health_metrics(
        settings: Settings, spawn: Callable[..., Proc]) -> None:
    at = datetime.now(UTC) - timedelta(minutes=20)
    produce(settings, AGENCY, [*journey(CTX, "SK1234AB", "w1", at, arrived=False),
                               *journey(CTX, "SK9876CD", "a1", at - timedelta(hours=1))])
    consumer = spawn(["consume", "--agency", AGENCY], settings)
    base = start_api(settings, spawn)
    wait_for(lambda: get(f"{base}/vehicles/SK9876CD")[0] == 200 and consumer.popen.poll() is None,
             60, "the consumer to fill the read model")

    status, view = get(f"{base}/vehicles/sk%209876%20cd")
    assert status == 200 and view["found"] and view["status"] == "arrived"
    assert view["latest"]["matched"]["discrepancies"][0]["field"] == "gross_mass_kg"
    assert [a["type"] for a in view["alerts"]] == ["DISCREPANCY"]
    status, missing = get(f"{base}/vehicles/XX0000")
    assert status == 404 and missing == {"plate": "XX0000", "found": False}

    crossing = view["crossing"]
    status, alerts = get(f"{base}/alerts?crossing={crossing}")
    assert status == 200 and [a["alert_id"] for a in alerts["alerts"]] == ["a1-a"]
    status, text = get(f"{base}/alerts?crossing=nowhere")
    assert status == 400 and "unknown crossing 'nowhere'" in text and crossing in text
    assert get(f"{base}/alerts?limit=abc")[0] == 400

    status, enroute = get(f"{base}/enroute")
    assert status == 200 and [v["plate"] for v in enroute["vehicles"]] == ["SK1234AB"]
    assert enroute["vehicles"][0]["inspections"] == 1

    status, health = get(f"{base}/healthz")
    assert status == 200 and health["status"] == "ok" and health["records"]["crossings"] == 3
    status, metrics = get(f"{base}/metrics")
    assert status == 200 and "bordersync_lookup_latency_seconds_count" in metrics
    status, page = get(f"{base}/")
    assert status == 200 and "On their way to this side" in page
