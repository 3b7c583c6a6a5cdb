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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bordersync.security import acl
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


def test_production_profile_end_to_end_over_sasl_ssl(
    secure_stack: SecureStack, spawn: Callable[..., Proc], tmp_path: Path
) -> None:
    """Signatures that cannot be dodged: every process in the production profile, keys exchanged
    with `keys export` / `keys import --admin`; signed events flow to the agency's read model
    (share records signed by the pipeline key), an unsigned record and a signed replay older
    than the dedup TTL are dead-lettered."""
    from confluent_kafka import Producer

    from bordersync.border import load_border_config
    from bordersync.events import validate
    from bordersync.kafka import producer_conf
    from bordersync.wire import codec

    def as_(name: str, home: str) -> Settings:
        path = tmp_path / home
        path.mkdir(exist_ok=True)
        return secure_stack.as_(name, PREFIXES[1], home=path, profile="production",
                                require_signatures=True, stream_engine="batch")

    mk, al = as_(acl.terminal("MK"), "mk"), as_(acl.terminal("AL"), "al")
    worker, agency = as_(acl.WORKER, "worker"), as_(acl.agency("al-customs"), "agency")
    _cli(["keys", "generate", "--admin", "MK"], mk)
    _cli(["keys", "generate", "--admin", "AL"], al)
    _cli(["keys", "generate", "--admin", "BORDERSYNC"], worker)
    for source, admin, target in ((mk, "MK", worker), (al, "AL", worker),
                                  (worker, "BORDERSYNC", agency)):
        exported = tmp_path / f"{admin}-trust.json"
        exported.write_text(_cli(["keys", "export"], source))
        _cli(["keys", "import", "--admin", admin, "--file", str(exported)], target)

    procs = [spawn(["streams", "worker"], worker), spawn(["consume", "--agency", "al-customs"],
                                                          agency)]
    now = datetime.now(UTC)
    exit_, entry = _pair("prod", "SK 7003 SS")
    exit_["event_time"] = (now - timedelta(minutes=20)).isoformat()
    entry["event_time"] = (now - timedelta(minutes=5)).isoformat()
    _publish(mk, exit_)
    _publish(al, entry)
    # Signed, but older than the dedup TTL: a replay.
    _publish(mk, crossing(event_id="prod-replayed", plate="SK 7004 SS",
                          event_time=(now - timedelta(days=8)).isoformat()))
    # Unsigned, produced straight to raw by the MK terminal principal.
    unsigned = validate(crossing(event_id="prod-unsigned", plate="SK 7005 SS",
                                 event_time=now.isoformat()), load_border_config())
    producer = Producer(producer_conf(mk))
    producer.produce(mk.topic("raw"), codec.encode("raw", unsigned), b"SK7005SS",
                     headers=[("event_id", b"prod-unsigned")])
    assert producer.flush(30) == 0

    def stored() -> bool:
        done = run_cli(["lookup", "--plate", "SK 7003 SS", "--agency", "al-customs", "--json"],
                       agency)
        return done.returncode == 0 and "prod-entry" in done.stdout and '"matched"' in done.stdout

    try:
        wait_for(stored, 120, "the signed pair in al-customs' read model (production profile)")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n" + "\n".join(p.output()[-3000:] for p in procs)) from exc
    admin = as_(acl.ADMIN, "admin")

    def dead() -> dict[str, str]:
        return {str(r["headers"].get("event_id")): str(r["headers"].get("dlq.stage"))
                for r in _tail(admin, "dlq")}

    wait_for(lambda: {"prod-unsigned", "prod-replayed"} <= set(dead()), 60, "two dead letters")
    assert dead()["prod-unsigned"] == "signature" and dead()["prod-replayed"] == "replay"
