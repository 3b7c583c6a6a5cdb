"""HTTP JSON API and officer page over one agency's read model (aiohttp).

Redis calls are short and synchronous; they run in worker threads so the event loop stays free.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from importlib import resources
from typing import Any

import redis
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from bordersync.border import load_border_config
from bordersync.plates import normalise_plate
from bordersync.settings import Settings
from consumers.readmodel import AgencyContext, Keys
from consumers.sink import Reader, connect

READER: web.AppKey[Reader] = web.AppKey("reader", Reader)
INFO: web.AppKey[dict[str, Any]] = web.AppKey("info", dict)
MAX_LIMIT = 500


def reader_for(settings: Settings, agency: str) -> Reader:
    ctx = AgencyContext.of(load_border_config(settings.border_config), agency)
    return Reader(connect(settings), ctx, Keys.of(settings, agency))


def officer_page() -> str:
    return resources.files("consumers").joinpath("static/officer.html").read_text("utf-8")


def _limit(request: web.Request) -> int:
    raw = request.query.get("limit", "100")
    if not raw.isdigit() or not 0 < int(raw) <= MAX_LIMIT:
        raise web.HTTPBadRequest(text=f"limit must be an integer in 1..{MAX_LIMIT}, got {raw!r}")
    return int(raw)


async def page(request: web.Request) -> web.Response:
    return web.Response(text=officer_page(), content_type="text/html")


async def info(request: web.Request) -> web.Response:
    return web.json_response(request.app[INFO])


async def vehicle(request: web.Request) -> web.Response:
    plate = normalise_plate(request.match_info["plate"])
    view = await asyncio.to_thread(request.app[READER].vehicle, plate)
    if view is None:
        return web.json_response({"plate": plate, "found": False}, status=404)
    return web.json_response({**view, "found": True})


async def alerts(request: web.Request) -> web.Response:
    reader = request.app[READER]
    crossing = request.query.get("crossing") or None
    if crossing is not None and crossing not in reader.ctx.crossings:
        known = ", ".join(sorted(reader.ctx.crossings))
        raise web.HTTPBadRequest(text=f"unknown crossing {crossing!r} for {reader.ctx.name}; "
                                      f"known: {known}")
    rows = await asyncio.to_thread(reader.alerts, crossing, _limit(request))
    return web.json_response({"crossing": crossing, "alerts": rows})


async def enroute(request: web.Request) -> web.Response:
    rows = await asyncio.to_thread(request.app[READER].enroute, _limit(request))
    return web.json_response({"agency": request.app[READER].ctx.name, "vehicles": rows})


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
    app = web.Application()
    app[READER] = reader
    app[INFO] = {
        "agency": agency,
        "admin": reader.ctx.admin,
        "crossings": [c.model_dump() for c in border.crossings if c.id in reader.ctx.crossings],
    }
    app.router.add_get("/", page)
    app.router.add_get("/info", info)
    app.router.add_get("/vehicles/{plate}", vehicle)
    app.router.add_get("/alerts", alerts)
    app.router.add_get("/enroute", enroute)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    return app


async def _serve(settings: Settings, agency: str, port: int) -> None:
    runner = web.AppRunner(make_app(settings, agency), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.api_addr, port)
    await site.start()
    bound = port
    sockets = getattr(site._server, "sockets", None)
    if sockets:
        bound = int(sockets[0].getsockname()[1])
    print(f"api=http://{settings.api_addr}:{bound} agency={agency}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        with contextlib.suppress(Exception):
            await runner.cleanup()


def serve(settings: Settings, agency: str, port: int) -> int:
    try:
        asyncio.run(_serve(settings, agency, port))
    except OSError as exc:
        print(f"bordersync: cannot serve on {settings.api_addr}:{port}: {exc}", file=sys.stderr)
        return 1
    return 0
