"""RFC 9457 problem details for every error of the agency API (``application/problem+json``).

One middleware turns aiohttp's HTTP exceptions, an unreachable Redis and anything unexpected into
the same JSON shape, so a partner's client has one error format to handle and never sees a stack
trace or an HTML page.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from http import HTTPStatus

import redis
from aiohttp import web

PROBLEM_TYPE = "application/problem+json"
# Headers an error response must keep: how to authenticate, when to retry, which methods exist.
KEPT_HEADERS = ("WWW-Authenticate", "Retry-After", "Allow")
log = logging.getLogger("bordersync.api")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def problem(status: int, detail: str, headers: Mapping[str, str] | None = None,
            instance: str | None = None) -> web.Response:
    body: dict[str, object] = {"type": "about:blank", "title": HTTPStatus(status).phrase,
                               "status": status, "detail": detail}
    if instance is not None:
        body["instance"] = instance
    resp = web.Response(status=status, text=json.dumps(body, ensure_ascii=False),
                        headers=dict(headers or {}))
    resp.content_type = PROBLEM_TYPE
    return resp


def bad_request(detail: str) -> web.HTTPBadRequest:
    """Raise this from a handler; the middleware renders it as a problem."""
    return web.HTTPBadRequest(text=detail)


@web.middleware
async def problems(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        text = exc.text or ""
        # aiohttp's own messages look like "404: Not Found"; say something a person can use.
        detail = (text if text and not text.startswith(f"{exc.status}:")
                  else _default_detail(exc.status, request))
        headers = {k: exc.headers[k] for k in KEPT_HEADERS if k in exc.headers}
        return problem(exc.status, detail, headers, instance=request.path)
    except redis.RedisError as exc:
        log.warning("read model unavailable: %s", exc)
        return problem(503, "the read model (Redis) is unavailable; try again shortly",
                       {"Retry-After": "5"}, instance=request.path)
    except Exception:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return problem(500, "unexpected server error; it was logged", instance=request.path)


def _default_detail(status: int, request: web.Request) -> str:
    if status == 404:
        return f"no such path: {request.path}"
    if status == 405:
        return f"method {request.method} is not allowed on {request.path}"
    return HTTPStatus(status).description or HTTPStatus(status).phrase
