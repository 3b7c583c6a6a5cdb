"""HTTP JSON API over an agency's read model, served by `bordersync api`, filled by the real
consumer from the broker (the Redis-only API tests are in tests/integration/api/)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from bordersync.border import load_border_config
from bordersync.settings import Settings
from consumers.readmodel import AgencyContext
from tests.conftest import Proc, wait_for
from tests.integration.api.support import call, start_api, token
from tooling.bench.consumers import journey, produce

AGENCY = "al-customs"
CTX = AgencyContext.of(load_border_config(), AGENCY)


def test_vehicles_alerts_enroute_health_metrics(
        settings: Settings, spawn: Callable[..., Proc]) -> None:
    at = datetime.now(UTC) - timedelta(minutes=20)
    produce(settings, AGENCY, [*journey(CTX, "SK1234AB", "w1", at, arrived=False),
                               *journey(CTX, "SK9876CD", "a1", at - timedelta(hours=1))])
    consumer = spawn(["consume", "--agency", AGENCY], settings)
    api = start_api(settings.model_copy(update={"api_admin_port": 0}), spawn)
    base, bearer = api.base, token(settings)

    def get(url: str) -> tuple[int, Any]:
        reply = call(url, bearer)
        return reply.status, reply.body

    wait_for(lambda: get(f"{base}/vehicles/SK9876CD")[0] == 200 and consumer.popen.poll() is None,
             60, "the consumer to fill the read model")

    status, view = get(f"{base}/v1/vehicles/sk%209876%20cd")
    assert status == 200 and view["found"] and view["status"] == "arrived"
    assert view["latest"]["matched"]["discrepancies"][0]["field"] == "gross_mass_kg"
    assert [a["type"] for a in view["alerts"]] == ["DISCREPANCY"]
    status, missing = get(f"{base}/vehicles/XX0000")
    assert status == 404 and missing == {"plate": "XX0000", "found": False}

    crossing = view["crossing"]
    status, alerts = get(f"{base}/v1/alerts?crossing={crossing}")
    assert status == 200 and [a["alert_id"] for a in alerts["alerts"]] == ["a1-a"]
    status, problem = get(f"{base}/alerts?crossing=nowhere")
    assert status == 400 and "unknown crossing 'nowhere'" in problem["detail"]
    assert crossing in problem["detail"]
    assert get(f"{base}/alerts?limit=abc")[0] == 400

    status, enroute = get(f"{base}/v1/enroute")
    assert status == 200 and [v["plate"] for v in enroute["vehicles"]] == ["SK1234AB"]
    assert enroute["vehicles"][0]["inspections"] == 1

    status, health = get(f"{api.admin}/healthz")
    assert status == 200 and health["status"] == "ok" and health["records"]["crossings"] == 3
    status, metrics = get(f"{api.admin}/metrics")
    assert status == 200 and "bordersync_lookup_latency_seconds_count" in metrics
    status, page = get(f"{base}/")
    assert status == 200 and "On their way to this side" in page
