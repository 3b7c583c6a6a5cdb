"""The Schema Registry path of the codec, against a small in-process fake registry.

A real Confluent Schema Registry cannot run here, so ``FakeRegistry`` implements over HTTP exactly
the endpoints ``confluent_kafka.schema_registry.SchemaRegistryClient`` calls for us:

- ``POST /subjects/{subject}/versions`` body ``{"schema": "<avsc>", ...}`` -> ``{"id": N}``; the
  same schema text gets the same id across subjects (as in Confluent); a schema the subject's
  latest version cannot be read by (our compatibility checker, BACKWARD) -> 409.
- ``GET /schemas/ids/{id}`` -> ``{"schema": "<avsc>"}``, or 404 with error code 40403.

The real client library, real HTTP and the real codec run; only the server is a stand-in.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlparse

import pytest
from fastavro import parse_schema, schemaless_writer

from bordersync.border import load_border_config
from bordersync.events import validate
from bordersync.settings import Settings
from bordersync.wire import codec
from bordersync.wire.codec import Codec, DecodeError, EncodeError
from bordersync.wire.compat import can_read
from bordersync.wire.registry import Registry
from bordersync.wire.schemas import catalogue
from tests.helpers import crossing

BORDER = load_border_config()
PREFIX = "reg."


class FakeRegistry(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.schemas: dict[int, str] = {}
        self.subjects: dict[str, list[int]] = {}
        self.requests: list[str] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def register(self, subject: str, text: str) -> tuple[int, dict[str, Any]]:
        with self.lock:
            versions = self.subjects.setdefault(subject, [])
            if versions:
                latest = json.loads(self.schemas[versions[-1]])
                problems = can_read(latest, json.loads(text))
                if problems:
                    return 409, {"error_code": 409, "message": f"incompatible: {problems[0]}"}
            sid = next((i for i, s in self.schemas.items() if s == text), len(self.schemas) + 1)
            self.schemas[sid] = text
            if sid not in versions:
                versions.append(sid)
            return 200, {"id": sid}


class _Handler(BaseHTTPRequestHandler):
    server: FakeRegistry

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        path = urlparse(self.path).path.strip("/").split("/")
        self.server.requests.append(f"POST {urlparse(self.path).path}")
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if len(path) == 3 and path[0] == "subjects" and path[2] == "versions":
            self._reply(*self.server.register(unquote(path[1]), body["schema"]))
        else:
            self._reply(404, {"error_code": 404, "message": f"not implemented: {self.path}"})

    def do_GET(self) -> None:
        path = urlparse(self.path).path.strip("/").split("/")
        self.server.requests.append(f"GET {urlparse(self.path).path}")
        if len(path) == 3 and path[:2] == ["schemas", "ids"]:
            text = self.server.schemas.get(int(path[2]))
            if text is None:
                self._reply(404, {"error_code": 40403, "message": "Schema not found"})
            else:
                self._reply(200, {"schema": text})
        else:
            self._reply(404, {"error_code": 404, "message": f"not implemented: {self.path}"})

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass


@pytest.fixture
def registry() -> Iterator[FakeRegistry]:
    server = FakeRegistry()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _codec(url: str) -> Codec:
    """A codec as one process builds it; each call is a fresh process with empty caches."""
    settings = Settings(topic_prefix=PREFIX)
    return Codec(catalogue(), Registry(url, {"max.retries": 0}), settings.topic)


def test_writers_register_under_topic_subjects_and_readers_resolve_by_id(
        registry: FakeRegistry) -> None:
    record = validate(crossing(priority="AEO"), BORDER)
    writer = _codec(registry.url)
    data = writer.encode("raw", record)
    assert data[0] == 0 and int.from_bytes(data[1:5], "big") == 1  # the registry's id, not ours
    writer.encode("raw", record)
    writer.encode("crossing", record)  # the crossings topic
    shared = {"stream": "alerts", "agency": "al-customs", "shared_at": datetime.now(UTC),
              "record": {"alert_id": "x" * 32}}
    writer.encode("share", shared)
    assert sorted(registry.subjects) == [
        "reg.crossings-value", "reg.raw-value", "reg.share.al-customs-value"]
    assert registry.requests.count("POST /subjects/reg.raw-value/versions") == 1  # cached

    reader = _codec(registry.url)  # another process, started later
    assert reader.decode("raw", data) == record
    assert reader.decode("raw", data) == record
    assert registry.requests.count("GET /schemas/ids/1") == 1  # cached


def test_old_and_newer_writer_schemas_resolve_to_the_current_reader(
        registry: FakeRegistry) -> None:
    cat = catalogue()
    v1 = cat.families["crossing_event"][0]
    _, reply = registry.register("reg.crossings-value", v1.text())
    sid = int(reply["id"])
    body = Codec(cat).encode("crossing", validate(crossing(), BORDER))[5:]  # v2 body, no priority
    # A v1 body: the same fields minus the trailing optional priority (one null-branch byte).
    decoded = _codec(registry.url).decode("crossings", b"\x00" + sid.to_bytes(4, "big") + body[:-1])
    assert decoded == validate(crossing(), BORDER)

    newer = json.loads(cat.latest("crossing_event").text())
    newer["fields"].append({"name": "lane", "type": ["null", "string"], "default": None})
    status, reply = registry.register("reg.crossings-value", json.dumps(newer))
    assert status == 200
    out = io.BytesIO(b"\x00" + int(reply["id"]).to_bytes(4, "big"))
    out.seek(5)
    event = {**validate(crossing(), BORDER), "lane": "3"}
    schemaless_writer(out, parse_schema(newer), event)
    decoded = _codec(registry.url).decode("crossings", out.getvalue())
    assert decoded == validate(crossing(), BORDER)  # unknown newer field skipped by our reader


def test_registry_refuses_an_incompatible_schema(registry: FakeRegistry) -> None:
    cat = catalogue()
    # Another producer already registered an alert whose detail this process cannot read. (An
    # alert type it does not know is no longer such a case: since alert v2 the enum's default
    # reads unknown types as DISCREPANCY.)
    newer = json.loads(cat.latest("alert").text())
    assert newer["fields"][5]["name"] == "detail"
    newer["fields"][5]["type"] = "long"
    registry.register("reg.alerts-value", json.dumps(newer))
    alert = {"alert_id": "a" * 32, "type": "DISCREPANCY", "crossing": None, "plate": None,
             "event_ids": ["e1"], "detail": "d", "raised_at": datetime.now(UTC)}
    with pytest.raises(EncodeError, match="incompatible"):
        _codec(registry.url).encode("alerts", alert)


def test_unknown_ids_and_a_missing_registry_are_decode_errors(registry: FakeRegistry) -> None:
    record = validate(crossing(), BORDER)
    data = _codec(registry.url).encode("raw", record)
    unknown = _codec(registry.url).decode("raw", b"\x00\x00\x00\x00\x63" + data[5:])
    assert isinstance(unknown, DecodeError) and "unknown schema id 99" in unknown.reason
    down = _codec("http://127.0.0.1:9")  # nothing listens on the discard port
    result = down.decode("raw", data)
    assert isinstance(result, DecodeError)
    assert "schema registry unavailable" in result.reason


def test_configure_uses_the_registry_from_settings(registry: FakeRegistry) -> None:
    try:
        active = codec.configure(Settings(schema_registry_url=registry.url, topic_prefix=PREFIX))
        assert active.registry is not None
        record = validate(crossing(), BORDER)
        assert codec.decode("raw", codec.encode("raw", record)) == record
        assert "reg.raw-value" in registry.subjects
    finally:
        codec.configure(Settings())
    assert codec.encode("raw", record)[1:5] == catalogue().latest("raw").schema_id.to_bytes(4, "big")
