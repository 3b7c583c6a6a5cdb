"""The agency client (``consumers.client``) against the live API: lookups, every page of the
lists, the audit export, errors as problems, waiting out a 429, mutual TLS."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bordersync.settings import Settings
from consumers.client import AgencyClient, ApiError
from tests.conftest import Proc
from tests.integration.api.support import AGENCY, CTX, OTHER, make_pki, seed, start_api, token
from tooling.bench.consumers import journey

CROSSING = "kjafasan-qafe-thane"


def test_client_looks_up_walks_every_page_and_exports_the_audit_log(
        api_settings: Settings, spawn: Callable[..., Proc]) -> None:
    at = datetime.now(UTC) - timedelta(hours=2)
    on_the_way = [f"EN{i:03d}" for i in range(7)]
    records = [r for i, p in enumerate(on_the_way)
               for r in journey(CTX, p, f"e{i}", at + timedelta(minutes=i), arrived=False)]
    records += [r for i in range(5) for r in journey(CTX, f"AR{i:03d}", f"a{i}",
                                                     at - timedelta(minutes=30 + i))]
    seed(api_settings, records)
    api = start_api(api_settings, spawn)
    client = AgencyClient(api.base, token(api_settings, officer="cli", audit=True))

    assert client.info()["agency"] == AGENCY
    view = client.vehicle("en 000")
    assert view is not None and view["plate"] == "EN000" and view["status"] == "en_route"
    assert client.vehicle("NO SUCH 1") is None

    rows = list(client.enroute(page_size=2))  # four pages
    assert [r["plate"] for r in rows] == list(reversed(on_the_way))  # newest exit first
    alerts = list(client.alerts(CROSSING, page_size=2))
    assert sorted(a["alert_id"] for a in alerts) == [f"a{i}-a" for i in range(5)]
    assert [a["raised_at"] for a in alerts] == sorted((a["raised_at"] for a in alerts),
                                                      reverse=True)
    assert len(list(client.alerts())) == 5

    audit = list(client.audit(page_size=3))
    assert [(e["action"], e["plate"]) for e in audit[:3]] == [
        ("info", ""), ("vehicle", "EN000"), ("vehicle", "NOSUCH1")]
    assert {e["officer"] for e in audit} == {"cli"}


def test_client_raises_problems_and_waits_out_a_rate_limit(
        api_settings: Settings, spawn: Callable[..., Proc]) -> None:
    settings = api_settings.model_copy(update={"api_rate_burst": 2, "api_rate_per_second": 2.0})
    api = start_api(settings, spawn)
    with pytest.raises(ApiError) as unauthenticated:
        AgencyClient(api.base, "nonsense").info()
    assert unauthenticated.value.status == 401
    assert "invalid bearer token" in unauthenticated.value.problem["detail"]
    with pytest.raises(ApiError) as foreign:
        AgencyClient(api.base, token(settings, agency=OTHER)).info()
    assert foreign.value.status == 403
    with pytest.raises(ApiError) as bad:
        list(AgencyClient(api.base, token(settings, officer="b")).alerts("nowhere"))
    assert bad.value.status == 400 and "unknown crossing" in bad.value.problem["detail"]

    patient = AgencyClient(api.base, token(settings, officer="patient"), retries=5)
    started = time.monotonic()
    assert [patient.info()["agency"] for _ in range(4)] == [AGENCY] * 4  # burst 2, then waits
    assert time.monotonic() - started >= 0.9
    hasty = AgencyClient(api.base, token(settings, officer="hasty"), retries=0)
    with pytest.raises(ApiError) as limited:
        for _ in range(4):
            hasty.info()
    assert limited.value.status == 429 and (limited.value.retry_after or 0) >= 1


def test_client_with_the_agency_certificate(
        api_settings: Settings, spawn: Callable[..., Proc], tmp_path: Path) -> None:
    pki = make_pki(tmp_path, [AGENCY])
    settings = api_settings.model_copy(update={
        "api_tls_cert": pki["server.crt"], "api_tls_key": pki["server.key"],
        "api_tls_client_ca": pki["ca.crt"]})
    seed(settings, journey(CTX, "SK1234AB", "c1", datetime.now(UTC) - timedelta(minutes=30)))
    api = start_api(settings, spawn)
    client = AgencyClient(api.base, cert=(pki[f"{AGENCY}.crt"], pki[f"{AGENCY}.key"]),
                          ca=pki["ca.crt"])
    view = client.vehicle("SK-1234-AB")
    assert view is not None and view["status"] == "arrived"
    # The export is logged too, after the page it read.
    assert [(e["method"], e["action"]) for e in client.audit()] == [("mtls", "vehicle")]
    assert [e["action"] for e in client.audit()] == ["vehicle", "audit"]
