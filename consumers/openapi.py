"""The OpenAPI 3.1 description of the agency API, built here and served at ``/v1/openapi.json``.

It is the partners' contract: ``docs/openapi.json`` is this document committed (a test checks they
are equal, so regenerate with ``python -m consumers.openapi > docs/openapi.json``), and the fuzz
test drives the live server from it and checks every answer against it. It is the same for every
agency (the agency's own crossings come from ``/v1/info``), so one client fits all.
"""

from __future__ import annotations

import json
from typing import Any

from consumers.paging import CURSOR_PATTERN
from consumers.views import RISK_CHANNELS

MAX_LIMIT = 500
NULLABLE_STRING = {"type": ["string", "null"]}
OBJ = {"type": "object", "additionalProperties": True}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _problem(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description,
                           "content": {"application/problem+json": {"schema": _ref("Problem")}}}
    if headers:
        out["headers"] = headers
    return out


RETRY_AFTER = {"Retry-After": {"description": "seconds to wait",
                               "schema": {"type": "string", "pattern": "^[0-9]+$"}}}
WWW_AUTH = {"WWW-Authenticate": {"description": "the scheme to use", "schema": {"type": "string"}}}
ERRORS = {
    "400": _problem("a parameter is malformed (the detail says which)"),
    "401": _problem("no or invalid credentials", WWW_AUTH),
    "403": _problem("the credentials belong to another agency or lack the scope"),
    "404": _problem("no such path"),
    "405": _problem("method not allowed"),
    "429": _problem("too many requests from this client", RETRY_AFTER),
    "503": _problem("the read model is unavailable", RETRY_AFTER),
}
LIMIT = {"name": "limit", "in": "query", "required": False,
         "description": "page size",
         "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 100}}
CURSOR = {"name": "cursor", "in": "query", "required": False,
          "description": "opaque: the `next_cursor` of the previous page",
          "schema": {"type": "string", "pattern": CURSOR_PATTERN}}


def _op(op_id: str, summary: str, ok: dict[str, Any], params: list[dict[str, Any]] | None = None,
        extra: dict[str, Any] | None = None) -> dict[str, Any]:
    responses = {"200": {"description": "OK", "content": {"application/json": {"schema": ok}}},
                 **ERRORS, **(extra or {})}
    op: dict[str, Any] = {"operationId": op_id, "summary": summary, "responses": responses}
    if params:
        op["parameters"] = params
    return op


SCHEMAS: dict[str, Any] = {
    "Problem": {
        "type": "object", "description": "RFC 9457 problem details",
        "required": ["type", "title", "status", "detail"],
        "properties": {"type": {"type": "string"}, "title": {"type": "string"},
                       "status": {"type": "integer"}, "detail": {"type": "string"},
                       "instance": {"type": "string"}},
    },
    "Info": {
        "type": "object", "required": ["agency", "admin", "crossings"],
        "properties": {"agency": {"type": "string"}, "admin": {"type": "string"},
                       "crossings": {"type": "array", "items": OBJ}},
    },
    "Vehicle": {
        "type": "object",
        "required": ["plate", "agency", "status", "crossing", "latest", "journey", "inspections",
                     "alerts", "resolved_alerts", "risk", "found"],
        "properties": {
            "plate": {"type": "string"}, "agency": {"type": "string"},
            "status": {"enum": ["en_route", "arrived", "departed", "passed", "unknown"]},
            "crossing": NULLABLE_STRING,
            "latest": {"type": "object", "required": ["exit", "entry", "matched"],
                       "properties": {k: {"type": ["object", "null"]}
                                      for k in ("exit", "entry", "matched")}},
            "journey": {"type": "array", "items": OBJ,
                        "description": "crossing events in time order"},
            "inspections": {"type": "array", "items": {
                "type": "object", "required": ["recognised"],
                "properties": {"recognised": {"type": "boolean",
                                              "description": "by the other administration"}}}},
            "alerts": {"type": "array", "items": OBJ, "description": "open alerts"},
            "resolved_alerts": {"type": "array", "items": OBJ},
            "risk": {"type": "array", "items": _ref("RiskAssessment"),
                     "description": "joint risk assessments of the latest journey per crossing "
                                    "(docs/risk.md), newest journey first; within a journey the "
                                    "pre-arrival assessment before the entry one"},
            "found": {"const": True},
        },
    },
    "RiskHit": {
        "type": "object", "description": "one jointly signed risk profile that hit",
        "properties": {"profile_id": {"type": "string"}, "profile_version": {"type": "integer"},
                       "owner": {"type": "string",
                                 "description": "administration that maintains the profile"},
                       "rule": {"type": "string"}, "channel": {"type": "string"},
                       "weight": {"type": "integer"},
                       "reason": {"type": "string", "description": "for the officer"}},
    },
    "RiskAssessment": {
        "type": "object",
        "description": "a `risk` record (avro/risk/v1.avsc) as shared with this agency, plus "
                       "`perspective` and `en_route`",
        "required": ["perspective", "en_route"],
        "properties": {
            "risk_id": {"type": "string"},
            "stage": {"enum": ["PRE_ARRIVAL", "ENTRY"]},
            "perspective": {
                "enum": ["pre_arrival_from_other_side", "pre_arrival_by_our_side",
                         "own_at_entry", "other_side_at_entry"],
                "description": "the other side's assessment before arrival, ours at entry, ..."},
            "en_route": {"type": "boolean",
                         "description": "the pre-arrival assessment of a vehicle still on its "
                                        "way here (see `expected_arrival`)"},
            "crossing": {"type": "string"}, "plate": {"type": "string"},
            "event_id": {"type": "string"}, "admin": {"type": "string"},
            "assessed_for": {"type": "string"}, "event_time": {"type": "string"},
            "channel": {"type": "string", "description": " / ".join(RISK_CHANNELS)},
            "score": {"type": "integer", "minimum": 0, "maximum": 100},
            "green_lane": {"type": "boolean"},
            "operator": {**NULLABLE_STRING, "description": "AEO operator (green lane)"},
            "summary": {"type": "string", "description": "one line: why this channel"},
            "hits": {"type": "array", "items": _ref("RiskHit")},
            "profile_versions": {"type": "array", "items": {"type": "string"}},
            "expected_arrival": NULLABLE_STRING,
            "assessed_at": {"type": "string"},
        },
    },
    "NotFound": {"type": "object", "required": ["plate", "found"],
                 "properties": {"plate": {"type": "string"}, "found": {"const": False}}},
    "AlertsPage": {
        "type": "object", "required": ["crossing", "alerts", "next_cursor"],
        "properties": {"crossing": NULLABLE_STRING, "alerts": {"type": "array", "items": OBJ},
                       "next_cursor": NULLABLE_STRING},
    },
    "EnrouteRow": {
        "type": "object", "required": ["plate", "inspections", "open_alerts"],
        "properties": {"plate": {"type": "string"}, "crossing": NULLABLE_STRING,
                       "exit_time": NULLABLE_STRING, "exit_admin": NULLABLE_STRING,
                       "vehicle_type": NULLABLE_STRING, "inspections": {"type": "integer"},
                       "open_alerts": {"type": "integer"},
                       "risk_channel": {**NULLABLE_STRING,
                                        "description": "channel of the pre-arrival assessment "
                                                       "of this exit"}},
    },
    "EnroutePage": {
        "type": "object", "required": ["agency", "vehicles", "next_cursor"],
        "properties": {"agency": {"type": "string"},
                       "vehicles": {"type": "array", "items": _ref("EnrouteRow")},
                       "next_cursor": NULLABLE_STRING},
    },
    "AuditEntry": {
        "type": "object",
        "required": ["id", "at", "agency", "officer", "method", "action", "plate", "query",
                     "status"],
        "properties": {"id": {"type": "string"}, "at": {"type": "string", "format": "date-time"},
                       "agency": {"type": "string"}, "officer": {"type": "string"},
                       "method": {"enum": ["bearer", "mtls"]}, "action": {"type": "string"},
                       "plate": {"type": "string", "description": "plates answered, "
                                                                  "space-separated"},
                       "query": {"type": "string"}, "status": {"type": "integer"}},
    },
    "AuditPage": {
        "type": "object", "required": ["agency", "entries", "next_cursor"],
        "properties": {"agency": {"type": "string"},
                       "entries": {"type": "array", "items": _ref("AuditEntry")},
                       "next_cursor": NULLABLE_STRING},
    },
}


def document() -> dict[str, Any]:
    plate = {"name": "plate", "in": "path", "required": True,
             "description": "any spelling: spaces, hyphens, dots, lower case, Cyrillic twins",
             "schema": {"type": "string", "minLength": 1, "maxLength": 64},
             "example": "sk 1234 ab"}
    crossing = {"name": "crossing", "in": "query", "required": False,
                "description": "a crossing id of the agency (see /v1/info); all when absent",
                "schema": {"type": "string"}, "example": "kjafasan-qafe-thane"}
    vehicle_404 = {"404": {"description": "the read model knows nothing of this vehicle",
                           "content": {"application/json": {"schema": _ref("NotFound")},
                                       "application/problem+json": {"schema": _ref("Problem")}}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "bordersync agency API", "version": "1.0.0",
                 "description": "One partner agency's read model: vehicles, alerts, vehicles "
                                "on their way, the audit log. Every operation but this "
                                "document needs a bearer token (JWT: claims `agency`, "
                                "`officer`/`sub`, `scope`) or the agency's client certificate."},
        "security": [{"bearerAuth": []}, {"agencyCertificate": []}],
        "paths": {
            "/v1/openapi.json": {"get": {
                "operationId": "openapi", "summary": "this document", "security": [],
                "responses": {"200": {"description": "OK",
                                      "content": {"application/json": {"schema": OBJ}}},
                              "429": ERRORS["429"]}}},
            "/v1/info": {"get": _op("info", "the agency, its administration and crossings",
                                    _ref("Info"))},
            "/v1/vehicles/{plate}": {"get": _op(
                "vehicle", "what the read model knows of a vehicle", _ref("Vehicle"), [plate],
                vehicle_404)},
            "/v1/alerts": {"get": _op("alerts", "alerts of the agency's crossings, newest first",
                                      _ref("AlertsPage"), [crossing, LIMIT, CURSOR])},
            "/v1/enroute": {"get": _op("enroute", "vehicles on their way to this side, newest "
                                       "exit first", _ref("EnroutePage"), [LIMIT, CURSOR])},
            "/v1/audit": {"get": _op("audit", "the agency's audit log, oldest first (scope "
                                     "`audit`)", _ref("AuditPage"), [LIMIT, CURSOR])},
        },
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "agencyCertificate": {"type": "mutualTLS",
                                      "description": "subject commonName = agency name"},
            },
        },
    }


def render() -> str:
    return json.dumps(document(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    print(render(), end="")
