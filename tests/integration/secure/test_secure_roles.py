"""Every role exchanges events over SASL_SSL on the secured broker, each as its own principal.

Terminals of MK and AL publish (`bordersync publish`, outbox sender), the streams worker
processes — the Faust engine (aiokafka, ``broker_credentials`` + an SSL context) and the batch
engine (librdkafka) — an agency consumer fills its read model in Redis as its own Redis user,
and operators use ``topics create`` (admin), ``tail`` and ``lag``; each process gets nothing
but its principal's properties file (and, for an agency, its Redis URL).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bordersync import acl
from bordersync.settings import Settings
from tests.conftest import Proc, run_cli, wait_for
from tests.helpers import crossing
from tests.integration.secure.conftest import PREFIXES, SecureStack


def _cli(args: list[str], settings: Settings, stdin: str | None = None) -> str:
    done = run_cli(args, settings, stdin=stdin, timeout=120)
    assert done.returncode == 0, (args, done.stdout[-1500:], done.stderr[-1500:])
    return done.stdout


def _publish(settings: Settings, *events: dict[str, Any]) -> None:
    _cli(["publish", "--file", "-"], settings, "".join(json.dumps(e) + "\n" for e in events))


def _tail(settings: Settings, stream: str) -> list[dict[str, Any]]:
    out = _cli(["tail", stream, "--json", "--from-beginning", "--idle-timeout", "2"], settings)
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def _pair(tag: str, plate: str) -> tuple[dict[str, Any], dict[str, Any]]:
    exit_ = crossing(event_id=f"{tag}-exit", plate=plate, event_time="2026-11-25T10:00:00Z")
    entry = crossing(event_id=f"{tag}-entry", admin="AL", post="ALQTH01", direction="ENTRY",
                     plate=plate, event_time="2026-11-25T10:20:00Z", nationality="MK",
                     terminal_id="al-qth-booth-1")
    return exit_, entry


def test_faust_engine_and_every_role_over_sasl_ssl(
    secure_stack: SecureStack, spawn: Callable[..., Proc], tmp_path: Path
) -> None:
    def as_(name: str, **kw: object) -> Settings:
        home = tmp_path / name
        home.mkdir(exist_ok=True)
        return secure_stack.as_(name, PREFIXES[0], home=home, **kw)

    created = _cli(["topics", "create"], as_(acl.ADMIN))
    assert created.split() and all(line.startswith("exists") for line in created.splitlines())
    worker = spawn(["streams", "worker"], as_(acl.WORKER, stream_engine="faust"))
    agency = as_(acl.agency("al-customs"))
    consumer = spawn(["consume", "--agency", "al-customs"], agency)
    exit_, entry = _pair("faust", "SK 7001 SS")
    _publish(as_(acl.terminal("MK")), exit_)
    _publish(as_(acl.terminal("AL")), entry)

    def matched() -> bool:
        done = run_cli(["lookup", "--plate", "SK 7001 SS", "--agency", "al-customs", "--json"],
                       agency)
        return done.returncode == 0 and '"matched"' in done.stdout and "faust-entry" in done.stdout

    wait_for(matched, 120, "the pair in al-customs' read model (Faust worker, SASL_SSL)")
    assert worker.popen.poll() is None and consumer.popen.poll() is None
    ids = {r.get("event_id") for r in _tail(as_(acl.ADMIN), "crossings")}
    assert {"faust-exit", "faust-entry"} <= ids
    shared = _tail(agency, "share.al-customs")
    assert any(r.get("agency") == "al-customs" for r in shared)
    # An agency's tail of raw is refused by the broker, not merely filtered.
    refused = run_cli(["tail", "raw", "--json", "--from-beginning", "--idle-timeout", "2"],
                      agency)
    assert refused.returncode != 0
    lag = _cli(["lag", "--group", f"{PREFIXES[0]}agency.al-customs", "--stream",
                "share.al-customs"], as_(acl.LAG))
    rows = [json.loads(line) for line in lag.splitlines()]
    assert rows and all(r["group"] == f"{PREFIXES[0]}agency.al-customs" for r in rows)


def test_batch_engine_over_sasl_ssl(
    secure_stack: SecureStack, spawn: Callable[..., Proc], tmp_path: Path
) -> None:
    def as_(name: str, **kw: object) -> Settings:
        home = tmp_path / name
        home.mkdir(exist_ok=True)
        return secure_stack.as_(name, PREFIXES[1], home=home, **kw)

    worker = spawn(["streams", "worker"], as_(acl.WORKER, stream_engine="batch"))
    exit_, entry = _pair("batch", "SK 7002 SS")
    _publish(as_(acl.terminal("MK")), exit_)
    _publish(as_(acl.terminal("AL")), entry)
    admin = as_(acl.ADMIN)

    def paired() -> bool:
        return any(r.get("exit_event_id") == "batch-exit" for r in _tail(admin, "matched"))

    wait_for(paired, 90, "the pair on matched (batch worker, SASL_SSL)")
    assert worker.popen.poll() is None, worker.output()[-2000:]
