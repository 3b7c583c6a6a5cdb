"""Who may ask the live agency API (`bordersync api` on a free port, real Redis): credentials,
agencies, scopes, problem details, the admin port, rate limits, the audit log, mutual TLS."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bordersync.settings import Settings
from consumers import paging
from tests.conftest import Proc, run_cli
from tests.integration.api.support import (
    AGENCY,
    CTX,
    OTHER,
    call,
    make_pki,
    seed,
    start_api,
    tls_call,
    token,
)
from tooling.bench.consumers import journey

DATA_PATHS = ["/v1/info", "/v1/vehicles/SK1234AB", "/v1/alerts", "/v1/enroute", "/v1/audit",
              "/info", "/vehicles/SK1234AB", "/alerts", "/enroute"]


def _is_problem(reply_headers: dict[str, str], body: object, status: int) -> bool:
    return (reply_headers.get("Content-Type", "").startswith("application/problem+json")
            and isinstance(body, dict) and body.get("status") == status
            and isinstance(body.get("title"), str) and isinstance(body.get("detail"), str))


def test_every_data_path_needs_credentials_of_its_own_agency(
        api_settings: Settings, spawn: Callable[..., Proc]) -> None:
    seed(api_settings, journey(CTX, "SK1234AB", "s1", datetime.now(UTC) - timedelta(minutes=30)))
    api = start_api(api_settings, spawn)
    mine = token(api_settings, audit=True)
    theirs = token(api_settings, agency=OTHER, audit=True)
    expired = token(api_settings, ttl=60, now=time.time() - 3600)
    lookup_only = token(api_settings)
    for path in DATA_PATHS:
        url = api.base + path
        for bad in (None, "not-a-jwt", expired, mine[:-4] + "AAAA"):
            reply = call(url, bad)
            assert reply.status == 401, (path, bad, reply.body)
            assert _is_problem(reply.headers, reply.body, 401)
            assert reply.headers["WWW-Authenticate"].startswith("Bearer")
        basic = call(url, headers={"Authorization": "Basic b2ZmaWNlcjpwdw=="})
        assert basic.status == 401
        other = call(url, theirs)
        assert other.status == 403 and _is_problem(other.headers, other.body, 403), path
        assert OTHER in other.body["detail"]
        ok = call(url, mine)
        assert ok.status == 200, (path, ok.body)
    assert call(api.base + "/v1/audit", lookup_only).status == 403  # needs the audit scope
    # Public: the page (it signs in with a token) and the API description.
    page = call(api.base + "/")
    assert page.status == 200 and "Content-Security-Policy" in page.headers
    assert call(api.base + "/v1/openapi.json").body["openapi"] == "3.1.0"


def test_errors_are_problem_details_and_health_metrics_are_on_the_admin_port(
        api_settings: Settings, spawn: Callable[..., Proc]) -> None:
    api = start_api(api_settings, spawn)
    mine = token(api_settings)
    for url, status in [(api.base + "/v1/alerts?limit=abc", 400),
                        (api.base + "/v1/alerts?crossing=nowhere", 400),
                        (api.base + "/v1/enroute?cursor=not_ours", 400),
                        (api.base + "/v1/enroute?limit=501", 400),
                        (api.base + "/v1/nothing-here", 404),
                        (api.base + "/healthz", 404), (api.base + "/metrics", 404)]:
        reply = call(url, mine)
        assert reply.status == status and _is_problem(reply.headers, reply.body, status), url
    unknown = call(api.base + "/v1/alerts?crossing=nowhere", mine).body
    assert "unknown crossing 'nowhere'" in unknown["detail"]
    assert "kjafasan-qafe-thane" in unknown["detail"]
    posted = call(api.base + "/v1/info", mine, method="POST")
    assert posted.status == 405 and "GET" in posted.headers["Allow"]
    missing = call(api.base + "/v1/vehicles/xx%200000", mine)
    assert missing.status == 404 and missing.body == {"plate": "XX0000", "found": False}

    health = call(api.admin + "/healthz")
    assert health.status == 200 and health.body["status"] == "ok"
    metrics = call(api.admin + "/metrics")
    assert metrics.status == 200 and "bordersync_lookup_latency_seconds" in metrics.body


def test_limit_with_a_superscript_digit_is_a_400_not_a_500(
        api_settings: Settings, spawn: Callable[..., Proc]) -> None:
    """Regression: "²" passed str.isdigit() and then made int() fail: a 500."""
    api = start_api(api_settings, spawn)
    mine = token(api_settings)
    for odd in ("%C2%B2", "%D9%A1%D9%A2", "+5", "1e2", "-1", "%EF%BC%95"):
        for path in ("/v1/enroute", "/v1/alerts", "/v1/audit"):
            reply = call(f"{api.base}{path}?limit={odd}", token(api_settings, audit=True))
            assert reply.status == 400 and _is_problem(reply.headers, reply.body, 400), odd
    assert call(f"{api.base}/v1/enroute?limit=5", mine).status == 200


def test_cursor_with_a_nan_score_is_a_400_not_a_503(
        api_settings: Settings, spawn: Callable[..., Proc]) -> None:
    """Regression: json.loads reads NaN/Infinity; Redis refused them as a range bound and the
    API answered 503 (read model unavailable) to a forged cursor."""
    api = start_api(api_settings, spawn)
    mine = token(api_settings)
    for kind, path in (("enroute", "/v1/enroute"), ("alerts", "/v1/alerts")):
        for score in (float("nan"), float("inf"), float("-inf")):
            cursor = paging.encode({"k": kind, "s": score, "m": "X"})
            reply = call(f"{api.base}{path}?cursor={cursor}", mine)
            assert reply.status == 400 and _is_problem(reply.headers, reply.body, 400), cursor


def test_rate_limit_answers_429_with_retry_after_per_client(
        api_settings: Settings, spawn: Callable[..., Proc]) -> None:
    settings = api_settings.model_copy(update={"api_rate_burst": 3, "api_rate_per_second": 0.2})
    api = start_api(settings, spawn)
    first, second = token(settings, officer="o1"), token(settings, officer="o2")
    statuses = [call(api.base + "/v1/enroute", first).status for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = call(api.base + "/v1/enroute", first)
    assert limited.status == 429 and _is_problem(limited.headers, limited.body, 429)
    assert int(limited.headers["Retry-After"]) >= 1
    assert call(api.base + "/v1/enroute", second).status == 200  # a bucket per client
    # Unauthenticated guessing is limited by source address too.
    assert [call(api.base + "/v1/info").status for _ in range(4)] == [401, 401, 401, 429]


def test_every_query_is_audited_and_the_agency_exports_its_log(
        api_settings: Settings, spawn: Callable[..., Proc]) -> None:
    at = datetime.now(UTC) - timedelta(minutes=30)
    seed(api_settings, [*journey(CTX, "SK1234AB", "u1", at),
                        *journey(CTX, "BT555XY", "u2", at, arrived=False)])
    api = start_api(api_settings, spawn)
    cli = run_cli(["api", "token", "--agency", AGENCY, "--officer", "o-7"], api_settings)
    assert cli.returncode == 0, cli.stderr
    officer = cli.stdout.strip()
    assert call(api.base + "/v1/vehicles/sk%201234%20ab", officer).status == 200
    assert call(api.base + "/v1/vehicles/ZZ999", officer).status == 404
    assert call(api.base + "/v1/enroute", officer).body["vehicles"][0]["plate"] == "BT555XY"
    assert call(api.base + "/v1/info", token(api_settings, agency=OTHER)).status == 403

    auditor = token(api_settings, officer="auditor", audit=True)
    seen: list[dict[str, object]] = []
    url = api.base + "/v1/audit?limit=1"
    for _ in range(10):
        page = call(url, auditor).body
        seen += page["entries"]
        if page["next_cursor"] is None:
            break
        url = f"{api.base}/v1/audit?limit=1&cursor={page['next_cursor']}"
    rows = [(e["officer"], e["action"], e["plate"], e["status"]) for e in seen]
    assert rows[:3] == [("o-7", "vehicle", "SK1234AB", 200), ("o-7", "vehicle", "ZZ999", 404),
                        ("o-7", "enroute", "BT555XY", 200)]
    assert all(str(e["at"]).endswith("Z") for e in seen)
    # Refused before it read anything, and logged as such.
    assert rows[3] == ("officer-1", "refused", "", 403) and seen[3]["agency"] == OTHER
    assert str(seen[3]["query"]).startswith("/v1/info")

    # With a real issuer configured, the dev key mints nothing.
    refused = run_cli(["api", "token", "--agency", AGENCY],
                      api_settings.model_copy(update={"api_jwks": "/nonexistent/jwks.json"}))
    assert refused.returncode == 2 and "BORDERSYNC_API_JWKS" in refused.stderr

    exported = run_cli(["api", "audit", "--agency", AGENCY], api_settings)
    assert exported.returncode == 0, exported.stderr
    lines = [json.loads(line) for line in exported.stdout.splitlines()]
    assert [(e["officer"], e["action"], e["plate"]) for e in lines[:3]] == [r[:3] for r in rows[:3]]


def test_mutual_tls_client_certificate_names_the_agency(
        api_settings: Settings, spawn: Callable[..., Proc], tmp_path: Path) -> None:
    pki = make_pki(tmp_path, [AGENCY, OTHER])
    settings = api_settings.model_copy(update={
        "api_tls_cert": pki["server.crt"], "api_tls_key": pki["server.key"],
        "api_tls_client_ca": pki["ca.crt"]})
    seed(settings, journey(CTX, "SK1234AB", "m1", datetime.now(UTC) - timedelta(minutes=30)))
    api = start_api(settings, spawn)
    assert api.base.startswith("https://")
    mine = tls_call(api.base + "/v1/vehicles/SK1234AB", pki, AGENCY)
    assert mine.status == 200 and mine.body["found"]
    assert tls_call(api.base + "/v1/vehicles/SK1234AB", pki, OTHER).status == 403
    assert tls_call(api.base + "/v1/info", pki, None).status == 401
    assert tls_call(api.base + "/v1/info", pki, None, token(settings)).status == 200
    audit = tls_call(api.base + "/v1/audit", pki, AGENCY).body["entries"]
    assert audit[0]["method"] == "mtls" and audit[0]["officer"].startswith("cert:")
