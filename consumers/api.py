"""HTTP JSON API and officer page over one agency's read model (aiohttp), fit for partners.

Every data path needs credentials (bearer JWT or the agency's client certificate; 401 without,
403 for another agency's), is rate limited per client (429 + ``Retry-After``) and audited
before it answers. Paths are versioned (``/v1/...``; the unversioned ones of the first release
stay as aliases with the same rules), lists are paged with opaque cursors, errors are RFC 9457
problem details, and ``/healthz`` and ``/metrics`` live on a separate admin port. Redis calls
are short and synchronous; they run in worker threads so the event loop stays free.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import signal
import ssl
import sys
from importlib import resources
from typing import Any

import redis
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from bordersync.border import load_border_config
from bordersync.plates import normalise_plate
from bordersync.settings import Settings
from consumers import paging
from consumers.audit import AuditLog
from consumers.auth import SCOPE_AUDIT, SCOPE_LOOKUP, Authenticator, AuthError, Principal
from consumers.openapi import document
from consumers.problems import Handler, bad_request, problem, problems
from consumers.ratelimit import RateLimiter
from consumers.readmodel import AgencyContext, Keys
from consumers.sink import Reader, connect
from consumers.views import alert_rows, enroute_row

READER: web.AppKey[Reader] = web.AppKey("reader", Reader)
INFO: web.AppKey[dict[str, Any]] = web.AppKey("info", dict)
AUTH: web.AppKey[Authenticator] = web.AppKey("auth", Authenticator)
AUDIT: web.AppKey[AuditLog] = web.AppKey("audit", AuditLog)
LIMITER: web.AppKey[RateLimiter] = web.AppKey("limiter", RateLimiter)
PRINCIPAL = "bordersync.principal"
MAX_LIMIT = 500
DEFAULT_LIMIT = 100
MAX_PLATE = 64
PUBLIC = frozenset({"/", "/v1/openapi.json"})
SCOPES = {"/v1/audit": SCOPE_AUDIT}


def reader_for(settings: Settings, agency: str) -> Reader:
    ctx = AgencyContext.of(load_border_config(settings.border_config), agency)
    return Reader(connect(settings), ctx, Keys.of(settings, agency))


def officer_page() -> str:
    return resources.files("consumers").joinpath("static/officer.html").read_text("utf-8")


def officer_url(base: str, token: str) -> str:
    """The officer page, signed in: the token rides in the fragment (never sent to a server,
    never logged); the page moves it to sessionStorage and clears it from the address bar."""
    return f"{base}/#token={token}"


def _limit(request: web.Request) -> int:
    raw = request.query.get("limit", str(DEFAULT_LIMIT))
    # isdigit() alone admits "²" (which int() refuses) and other scripts' digits.
    if not (raw.isascii() and raw.isdigit()) or not 0 < int(raw) <= MAX_LIMIT:
        raise bad_request(f"limit must be an integer in 1..{MAX_LIMIT}, got {raw!r}")
    return int(raw)


def _cursor(request: web.Request) -> str | None:
    raw = request.query.get("cursor")
    if raw is not None and not paging.CURSOR.match(raw):
        raise bad_request("cursor is not one this API returned")
    return raw


def _who(request: web.Request) -> Principal:
    found: Principal = request[PRINCIPAL]
    return found


async def _audited(request: web.Request, action: str, status: int, plate: str = "") -> None:
    """Write the audit entry before the answer leaves; a failure fails the query (503)."""
    await asyncio.to_thread(request.app[AUDIT].record, _who(request), action, status, plate,
                            request.query_string)


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Authenticate, rate limit and authorise every data path; unknown paths fall through to
    404/405 so a probe learns nothing about credentials."""
    limiter = request.app[LIMITER]
    if request.match_info.http_exception is not None or request.path in PUBLIC:
        wait = limiter.take(f"ip:{request.remote}")
        if wait:
            return problem(429, "too many requests", {"Retry-After": f"{wait:.0f}"})
        return await handler(request)
    auth = request.app[AUTH]
    header = request.headers.get("Authorization")
    peercert = request.transport.get_extra_info("peercert") if request.transport else None
    try:
        principal = await asyncio.to_thread(_authenticate, auth, header, peercert)
    except AuthError as exc:
        wait = limiter.take(f"ip:{request.remote}")
        if wait:
            return problem(429, "too many requests", {"Retry-After": f"{wait:.0f}"})
        headers = ({"WWW-Authenticate": 'Bearer realm="bordersync"'} if exc.status == 401
                   else {"Retry-After": "5"})
        return problem(exc.status, exc.detail, headers, instance=request.path)
    wait = limiter.take(principal.client_id)
    if wait:
        return problem(429, f"too many requests from {principal.client_id}",
                       {"Retry-After": f"{wait:.0f}"}, instance=request.path)
    try:
        auth.authorise(principal, SCOPES.get(request.path, SCOPE_LOOKUP))
    except AuthError as exc:
        # A known caller knocking on the wrong door is worth an entry in this agency's log.
        await asyncio.to_thread(request.app[AUDIT].record, principal, "refused", exc.status, "",
                                f"{request.path}?{request.query_string}")
        return problem(exc.status, exc.detail, instance=request.path)
    request[PRINCIPAL] = principal
    return await handler(request)


def _authenticate(auth: Authenticator, header: str | None, peercert: Any) -> Principal:
    """A bearer token when one is sent (it names the officer), else the verified certificate."""
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError(401, "Authorization must be 'Bearer <token>'")
        return auth.bearer(token.strip())
    if peercert:
        return auth.certificate(peercert)
    raise AuthError(401, "credentials required: a bearer token or an agency client certificate")


def page_policy(html: str) -> str:
    """Content-Security-Policy of the officer page: only its own script (by hash) runs, so even
    markup that slipped into the page could not run an injected handler or script."""
    script = html.split("<script>", 1)[1].split("</script>", 1)[0]
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    return (f"default-src 'none'; script-src 'sha256-{digest}'; style-src 'unsafe-inline'; "
            "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; "
            "frame-ancestors 'none'")


async def page(request: web.Request) -> web.Response:
    html = officer_page()
    resp = web.Response(text=html, content_type="text/html")
    # The page renders every value as text; the policy is a second line against injection.
    resp.headers["Content-Security-Policy"] = page_policy(html)
    resp.headers["Referrer-Policy"] = "no-referrer"
    return resp


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(document())


async def info(request: web.Request) -> web.Response:
    await _audited(request, "info", 200)
    return web.json_response(request.app[INFO])


async def vehicle(request: web.Request) -> web.Response:
    raw = request.match_info["plate"]
    if len(raw) > MAX_PLATE:
        raise bad_request(f"plate is longer than {MAX_PLATE} characters")
    plate = normalise_plate(raw)
    view = await asyncio.to_thread(request.app[READER].vehicle, plate) if plate else None
    await _audited(request, "vehicle", 200 if view else 404, plate)
    if view is None:
        return web.json_response({"plate": plate, "found": False}, status=404)
    return web.json_response({**view, "found": True})


async def alerts(request: web.Request) -> web.Response:
    reader = request.app[READER]
    crossing = request.query.get("crossing") or None
    if crossing is not None and crossing not in reader.ctx.crossings:
        known = ", ".join(sorted(reader.ctx.crossings))
        raise bad_request(f"unknown crossing {crossing!r} for {reader.ctx.name}; known: {known}")
    limit, cursor = _limit(request), _cursor(request)
    try:
        position = paging.score_position(cursor, "alerts")
    except paging.BadCursor as exc:
        raise bad_request(str(exc)) from exc
    rows, nxt = await asyncio.to_thread(_alerts_page, reader, crossing, position, limit)
    await _audited(request, "alerts", 200, " ".join(str(r.get("plate", "")) for r in rows))
    return web.json_response({"crossing": crossing, "alerts": rows, "next_cursor": nxt})


def _alerts_page(reader: Reader, crossing: str | None, position: tuple[float, str] | None,
                 limit: int) -> tuple[list[dict[str, Any]], str | None]:
    crossings = [crossing] if crossing else sorted(reader.ctx.crossings)
    scored = sorted((row for c in crossings for row in paging.after_desc(
        reader.client, reader.keys.alerts_by_crossing(c), position, limit + 1)), reverse=True)
    page_rows, more = scored[:limit], len(scored) > limit
    if not page_rows:
        return [], None
    found = reader.client.mget([reader.keys.alert(i) for _, i in page_rows])
    nxt = paging.score_cursor("alerts", *page_rows[-1]) if more else None
    return alert_rows(None if v is None else str(v) for v in found), nxt


async def enroute(request: web.Request) -> web.Response:
    reader = request.app[READER]
    limit, cursor = _limit(request), _cursor(request)
    try:
        position = paging.score_position(cursor, "enroute")
    except paging.BadCursor as exc:
        raise bad_request(str(exc)) from exc
    rows, nxt = await asyncio.to_thread(_enroute_page, reader, position, limit)
    await _audited(request, "enroute", 200, " ".join(r["plate"] for r in rows))
    return web.json_response({"agency": reader.ctx.name, "vehicles": rows, "next_cursor": nxt})


def _enroute_page(reader: Reader, position: tuple[float, str] | None,
                  limit: int) -> tuple[list[dict[str, Any]], str | None]:
    scored = paging.after_desc(reader.client, reader.keys.enroute(), position, limit + 1)
    page_rows, more = scored[:limit], len(scored) > limit
    views = reader.vehicles([p for _, p in page_rows]) if page_rows else []
    rows = [enroute_row(v) for v in views if v is not None and v["status"] == "en_route"]
    return rows, paging.score_cursor("enroute", *page_rows[-1]) if more else None


async def audit(request: web.Request) -> web.Response:
    limit, cursor = _limit(request), _cursor(request)
    log = request.app[AUDIT]
    try:
        entries, nxt = await asyncio.to_thread(log.page, cursor, limit)
    except paging.BadCursor as exc:
        raise bad_request(str(exc)) from exc
    await _audited(request, "audit", 200)
    return web.json_response({"agency": request.app[READER].ctx.name, "entries": entries,
                              "next_cursor": nxt})


async def healthz(request: web.Request) -> web.Response:
    reader = request.app[READER]
    try:
        stats = await asyncio.to_thread(reader.stats)
    except redis.RedisError as exc:
        return web.json_response({"status": "unavailable", "redis": str(exc)}, status=503)
    return web.json_response({"status": "ok", "agency": reader.ctx.name, "records": stats})


async def metrics(request: web.Request) -> web.Response:
    resp = web.Response(body=generate_latest(REGISTRY))
    resp.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return resp


def make_app(settings: Settings, agency: str) -> web.Application:
    reader = reader_for(settings, agency)
    border = load_border_config(settings.border_config)
    app = web.Application(middlewares=[problems, guard])
    app[READER] = reader
    app[AUTH] = Authenticator(settings, agency)
    app[AUDIT] = AuditLog(reader.client, reader.keys, settings.api_audit_max_entries)
    app[LIMITER] = RateLimiter(settings.api_rate_per_second, settings.api_rate_burst)
    app[INFO] = {
        "agency": agency,
        "admin": reader.ctx.admin,
        "crossings": [c.model_dump() for c in border.crossings if c.id in reader.ctx.crossings],
    }
    app.router.add_get("/", page)
    app.router.add_get("/v1/openapi.json", openapi)
    for prefix in ("/v1", ""):  # the unversioned paths of the first release, same rules
        app.router.add_get(f"{prefix}/info", info)
        app.router.add_get(f"{prefix}/vehicles/{{plate}}", vehicle)
        app.router.add_get(f"{prefix}/alerts", alerts)
        app.router.add_get(f"{prefix}/enroute", enroute)
    app.router.add_get("/v1/audit", audit)
    return app


def make_admin_app(settings: Settings, agency: str) -> web.Application:
    """Health and metrics for the operator's network only (``api_admin_addr``)."""
    app = web.Application()
    app[READER] = reader_for(settings, agency)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    return app


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    """HTTPS when a certificate is configured; with a client CA, agency certificates are
    verified (optional, so officers with bearer tokens still connect)."""
    if settings.api_tls_cert is None:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(settings.api_tls_cert, settings.api_tls_key)
    if settings.api_tls_client_ca is not None:
        ctx.load_verify_locations(cafile=str(settings.api_tls_client_ca))
        ctx.verify_mode = ssl.CERT_OPTIONAL
    return ctx


def _bound(site: web.TCPSite, port: int) -> int:
    sockets = getattr(site._server, "sockets", None)
    return int(sockets[0].getsockname()[1]) if sockets else port


async def _serve(settings: Settings, agency: str, port: int) -> None:
    tls = tls_context(settings)
    runner = web.AppRunner(make_app(settings, agency), access_log=None)
    admin = web.AppRunner(make_admin_app(settings, agency), access_log=None)
    await runner.setup()
    await admin.setup()
    try:
        site = web.TCPSite(runner, settings.api_addr, port, ssl_context=tls)
        await site.start()
        admin_site = web.TCPSite(admin, settings.api_admin_addr, settings.api_admin_port)
        await admin_site.start()
        scheme = "https" if tls else "http"
        print(f"api={scheme}://{settings.api_addr}:{_bound(site, port)} "
              f"admin=http://{settings.api_admin_addr}:{_bound(admin_site, settings.api_admin_port)}"
              f" agency={agency}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        for r in (runner, admin):
            with contextlib.suppress(Exception):
                await r.cleanup()


def serve(settings: Settings, agency: str, port: int) -> int:
    try:
        asyncio.run(_serve(settings, agency, port))
    except OSError as exc:
        print(f"bordersync: cannot serve on {settings.api_addr}:{port} (admin "
              f"{settings.api_admin_addr}:{settings.api_admin_port}): {exc}", file=sys.stderr)
        return 1
    return 0
