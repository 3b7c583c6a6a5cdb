"""A small typed Python client for partner agencies of the bordersync agency API (``/v1``).

Standard library only (urllib, ssl, json), so an agency can install bordersync or simply copy
this one file into its own systems. It follows the API's rules for them: a bearer token or the
agency's client certificate on every call, cursor paging walked by iterators, RFC 9457 problems
raised as ``ApiError``, and a 429 waited out (``Retry-After``) a bounded number of times.

    client = AgencyClient("https://api.al-customs.example", token=os.environ["BS_TOKEN"])
    view = client.vehicle("sk 1234 ab")
    for row in client.enroute():
        ...
"""

from __future__ import annotations

import json
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NotRequired, TypedDict, cast

USER_AGENT = "bordersync-agency-client/1"


class Info(TypedDict):
    agency: str
    admin: str
    crossings: list[dict[str, Any]]


class EnrouteRow(TypedDict):
    plate: str
    crossing: str | None
    exit_time: str | None
    exit_admin: str | None
    vehicle_type: str | None
    inspections: int
    open_alerts: int
    risk_channel: NotRequired[str | None]  # absent from servers before the risk assessments


class AuditEntry(TypedDict):
    id: str
    at: str
    agency: str
    officer: str
    method: str
    action: str
    plate: str
    query: str
    status: int


class Vehicle(TypedDict):
    plate: str
    agency: str
    status: str
    crossing: str | None
    latest: dict[str, dict[str, Any] | None]
    journey: list[dict[str, Any]]
    inspections: list[dict[str, Any]]
    alerts: list[dict[str, Any]]
    resolved_alerts: list[dict[str, Any]]
    risk: NotRequired[list[dict[str, Any]]]  # docs/risk.md; absent from older servers
    found: bool


class ApiError(Exception):
    """An error answer; ``problem`` is the RFC 9457 body (``title``, ``detail``, ...)."""

    def __init__(self, status: int, problem: dict[str, Any], retry_after: float | None) -> None:
        super().__init__(f"{status} {problem.get('title', '')}: {problem.get('detail', '')}")
        self.status = status
        self.problem = problem
        self.retry_after = retry_after


class AgencyClient:
    """One agency's view of the API: ``token`` (an OIDC access token) or ``cert`` (a client
    certificate and key file, mutual TLS); ``ca`` to trust a private CA."""

    def __init__(self, base_url: str, token: str | None = None, *,
                 cert: tuple[Path | str, Path | str] | None = None, ca: Path | str | None = None,
                 timeout: float = 10.0, retries: int = 3, max_wait: float = 30.0) -> None:
        self.base = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.retries = retries
        self.max_wait = max_wait
        self._ssl: ssl.SSLContext | None = None
        if self.base.startswith("https://"):
            self._ssl = ssl.create_default_context(cafile=str(ca) if ca else None)
            if cert is not None:
                self._ssl.load_cert_chain(str(cert[0]), str(cert[1]))

    # -- single resources
    def info(self) -> Info:
        return cast(Info, self._get("/v1/info"))

    def vehicle(self, plate: str) -> Vehicle | None:
        """What the read model knows of a vehicle (any spelling), None when nothing."""
        try:
            return cast(Vehicle, self._get("/v1/vehicles/" + urllib.parse.quote(plate, safe="")))
        except ApiError as exc:
            if exc.status == 404 and exc.problem.get("found") is False:
                return None
            raise

    # -- lists, every page walked
    def enroute(self, page_size: int = 100) -> Iterator[EnrouteRow]:
        """Vehicles on their way to this side, newest exit first."""
        for row in self._pages("/v1/enroute", "vehicles", {"limit": page_size}):
            yield cast(EnrouteRow, row)

    def alerts(self, crossing: str | None = None, page_size: int = 100
               ) -> Iterator[dict[str, Any]]:
        """Alerts of one crossing (of all the agency's crossings when None), newest first."""
        params: dict[str, Any] = {"limit": page_size}
        if crossing is not None:
            params["crossing"] = crossing
        yield from self._pages("/v1/alerts", "alerts", params)

    def audit(self, page_size: int = 500) -> Iterator[AuditEntry]:
        """The agency's audit log, oldest first (needs the ``audit`` scope or the agency cert)."""
        for row in self._pages("/v1/audit", "entries", {"limit": page_size}):
            yield cast(AuditEntry, row)

    def _pages(self, path: str, field: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        cursor: str | None = None
        while True:
            query = {**params, **({"cursor": cursor} if cursor else {})}
            page = self._get(f"{path}?{urllib.parse.urlencode(query)}")
            yield from page[field]
            cursor = page.get("next_cursor")
            if not cursor:
                return

    # -- transport
    def _get(self, path: str) -> dict[str, Any]:
        attempt = 0
        while True:
            request = urllib.request.Request(self.base + path, headers={
                "Accept": "application/json, application/problem+json", "User-Agent": USER_AGENT})
            if self.token is not None:
                request.add_header("Authorization", f"Bearer {self.token}")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout,  # the agency's API
                                            context=self._ssl) as resp:
                    return cast(dict[str, Any], json.loads(resp.read()))
            except urllib.error.HTTPError as exc:
                error = _error(exc)
            if error.status != 429 or attempt >= self.retries:
                raise error
            attempt += 1
            time.sleep(min(self.max_wait, error.retry_after or 1.0))


def _error(exc: urllib.error.HTTPError) -> ApiError:
    raw = exc.read()
    try:
        body = json.loads(raw)
    except ValueError:
        body = {"title": exc.reason, "detail": raw.decode("utf-8", "replace")[:500]}
    if not isinstance(body, dict):
        body = {"detail": str(body)}
    retry = exc.headers.get("Retry-After")
    return ApiError(exc.code, body, float(retry) if retry and retry.isdigit() else None)
