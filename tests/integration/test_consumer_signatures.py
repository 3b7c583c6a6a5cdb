"""Signed share records end to end: a worker with a pipeline key (`keys generate --admin
BORDERSYNC`) signs what it shares; an agency consumer that requires signatures stores those, and
skips tampered, unsigned, unknown-key, wrongly signed and revoked records produced straight onto
its share topic (counted with reason "signature", logged with the reason), leaving the valid
records around them untouched. The pipeline key is rotated through the trust file while the
consumer runs: old and new key verify during the overlap, the old one stops at revocation."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from confluent_kafka import Producer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from prometheus_client import REGISTRY

from bordersync.border import load_border_config
from bordersync.kafka import producer_conf
from bordersync.security.keys import KeyStore, pipeline_signer
from bordersync.security.signing import PIPELINE_ADMIN, Signer, Verified, sign, verify
from bordersync.settings import Settings
from bordersync.wire import codec
from consumers.readmodel import AgencyContext, Keys
from consumers.runner import AgencyConsumer
from consumers.sink import connect
from tests.conftest import Proc, run_cli, wait_for
from tests.helpers import crossing
from tests.integration.streams_support import header_pairs, read_to_end
from tooling.bench.consumers import journey

AGENCY = "al-customs"
PLATE = "SK7777AB"
CTX = AgencyContext.of(load_border_config(), AGENCY)


def rejected() -> float:
    return REGISTRY.get_sample_value(
        "bordersync_consumer_errors_total", {"agency": AGENCY, "reason": "signature"}) or 0.0


def share_value(event_id: str) -> bytes:
    """An encoded share record (an EXIT from the other side) with this event id."""
    _inspection, (_key, exit_share) = journey(CTX, PLATE, "x", datetime.now(UTC), arrived=False)
    exit_share["record"] = {**exit_share["record"], "event_id": event_id}
    return codec.encode("share", exit_share)


Headers = list[tuple[str, str | bytes | None]]


def produce(settings: Settings, records: list[tuple[bytes, Headers]]) -> None:
    producer = Producer(producer_conf(settings))
    for value, headers in records:
        producer.produce(settings.topic(f"share.{AGENCY}"), key=PLATE.encode(), value=value,
                         headers=headers)
    assert producer.flush(30) == 0


def signed(event_id: str, signer: Signer) -> tuple[bytes, Headers]:
    value = share_value(event_id)
    headers: Headers = list(sign(value, PLATE.encode(), signer))
    return value, headers


def stored(settings: Settings, plate: str = PLATE) -> set[str]:
    return {str(k) for k in connect(settings).hkeys(Keys.of(settings, AGENCY).crossings(plate))}


def share_headers(settings: Settings) -> list[dict[str, bytes]]:
    """Headers of every record the worker wrote to the share topic so far."""
    return [{**{n: v for n, v in header_pairs(msg) if isinstance(v, bytes)},
             "_value": msg.value() or b"", "_key": msg.key() or b""}
            for msg in read_to_end(settings, settings.topic(f"share.{AGENCY}"), 20)]


@pytest.fixture
def running() -> Iterator[Callable[[AgencyConsumer], None]]:
    started: list[tuple[AgencyConsumer, threading.Thread]] = []

    def start(consumer: AgencyConsumer) -> None:
        thread = threading.Thread(target=consumer.run, daemon=True)
        thread.start()
        started.append((consumer, thread))

    yield start
    for consumer, thread in started:
        consumer.stop()
        thread.join(30)


def test_consumer_verifies_share_records_and_follows_pipeline_key_rotation(
    make_settings: Callable[..., Settings], spawn: Callable[..., Proc],
    running: Callable[[AgencyConsumer], None], tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    worker_settings = make_settings(stream_engine="batch")
    # The agency is another organisation: its own home and trust file, signatures required.
    agency_settings = worker_settings.model_copy(
        update={"home": tmp_path / "agency", "require_signatures": True})
    done = run_cli(["keys", "generate", "--admin", PIPELINE_ADMIN], worker_settings)
    assert done.returncode == 0, done.stderr
    first = done.stdout.strip()
    worker_keys, agency_keys = KeyStore.from_settings(worker_settings), KeyStore.from_settings(
        agency_settings)
    agency_keys.import_trust(worker_keys.trust())  # = `keys export` there, `keys import` here
    first_signer = worker_keys.signer(PIPELINE_ADMIN)

    # Pipeline: a published EXIT reaches al-customs' share topic signed by the pipeline key.
    events = tmp_path / "events.jsonl"
    events.write_text(json.dumps(crossing(event_id="via-worker", plate="SK 1000 AA")) + "\n")
    assert run_cli(["publish", "--file", str(events)], worker_settings).returncode == 0
    spawn(["streams", "worker"], worker_settings)
    caplog.set_level("WARNING", logger="bordersync.consumer")
    consumer = AgencyConsumer(agency_settings, AGENCY)
    running(consumer)
    wait_for(lambda: "via-worker" in stored(agency_settings, "SK1000AA"), 60,
             "the worker's signed share record in the read model")
    [shared] = share_headers(worker_settings)
    assert shared["bs.sig.kid"].decode() == first
    assert verify(shared["_value"], shared["_key"], shared, agency_keys.trust(),
                  admin=PIPELINE_ADMIN) == Verified(first, PIPELINE_ADMIN)

    # Forged records between genuine ones on one partition.
    before = rejected()
    tampered_value, tampered_headers = signed("tampered", first_signer)
    rogue = Signer(PIPELINE_ADMIN, f"{PIPELINE_ADMIN}:rogue", Ed25519PrivateKey.generate())
    mk_key = KeyStore(tmp_path / "mk-keys").generate("MK")  # an administration's key, trusted
    agency_keys.import_trust(KeyStore(tmp_path / "mk-keys").trust())
    wait_for(lambda: consumer.trust().get(mk_key.kid) is not None, 10, "the MK key trusted")
    produce(agency_settings, [
        signed("genuine-1", first_signer),
        (tampered_value.replace(b"tampered", b"tamperex"), tampered_headers),
        (share_value("unsigned"), []),
        signed("unknown-kid", rogue),
        signed("admin-key", KeyStore(tmp_path / "mk-keys").signer("MK")),
        signed("genuine-2", first_signer),
    ])
    wait_for(lambda: {"genuine-1", "genuine-2"} <= stored(agency_settings), 30, "genuine records")
    wait_for(lambda: rejected() - before >= 4, 10, "four signature rejections")
    assert stored(agency_settings) == {"genuine-1", "genuine-2"}
    assert rejected() - before == 4
    reasons = {r.__dict__["fields"]["detail"] for r in caplog.records
               if r.__dict__.get("fields", {}).get("reason") == "signature"}
    assert any(d.startswith(f"bad signature for key {first}") for d in reasons), reasons
    assert "unsigned: no signature headers (signatures are required)" in reasons
    assert f"unknown key id {PIPELINE_ADMIN}:rogue" in reasons
    assert any(d.startswith("record of administration 'BORDERSYNC' signed by MK") for d in reasons)
    where = next(r.__dict__["fields"] for r in caplog.records
                 if r.__dict__.get("fields", {}).get("reason") == "signature")
    assert where["topic"] == agency_settings.topic(f"share.{AGENCY}") and where["offset"] >= 0

    # Rotation: the worker host makes a new key; the agency imports it while consuming.
    done = run_cli(["keys", "rotate", "--admin", PIPELINE_ADMIN], worker_settings)
    second = done.stdout.strip()
    assert done.returncode == 0 and second != first, done.stderr
    second_signer = pipeline_signer(worker_settings)  # what a restarted worker signs with
    assert second_signer is not None and second_signer.kid == second
    agency_keys.import_trust(worker_keys.trust())
    wait_for(lambda: consumer.trust().get(second) is not None, 10, "the new key trusted")
    produce(agency_settings, [signed("old-key-in-overlap", first_signer),
                              signed("new-key", second_signer)])
    wait_for(lambda: {"old-key-in-overlap", "new-key"} <= stored(agency_settings), 30,
             "records of both keys during the overlap")

    # Revocation of the old key: its records are refused from then on, the new key's are not.
    agency_keys.revoke(first)
    wait_for(lambda: consumer.trust().keys[first].revoked, 10, "the revocation seen")
    produce(agency_settings, [signed("old-key-revoked", first_signer),
                              signed("new-key-2", second_signer)])
    wait_for(lambda: "new-key-2" in stored(agency_settings), 30, "the new key's record")
    wait_for(lambda: rejected() - before >= 5, 10, "the revoked key's record refused")
    assert "old-key-revoked" not in stored(agency_settings)
    assert any(r.__dict__.get("fields", {}).get("detail") == f"key {first} is revoked"
               for r in caplog.records)
