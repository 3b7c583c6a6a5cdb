"""Signed records through the real broker: signature headers survive Kafka byte for byte, and a
reader holding the partners' trust file tells genuine records from forged, altered and unsigned
ones (what the worker and partner consumers will do once signing is wired, docs/security.md)."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from confluent_kafka import Consumer, Producer

from bordersync.border import load_border_config
from bordersync.events import validate
from bordersync.kafka import consumer_conf, producer_conf
from bordersync.plates import normalise_plate
from bordersync.security.keys import KeyStore
from bordersync.security.signing import Rejected, Verified, sign, verify
from bordersync.settings import Settings
from bordersync.wire import codec
from tests.helpers import crossing


def encoded(**overrides: Any) -> tuple[bytes, bytes, str]:
    event = validate(crossing(**overrides), load_border_config())
    return normalise_plate(event["plate"]).encode(), codec.encode("raw", event), event["event_id"]


def produce(settings: Settings, topic: str,
            records: list[tuple[bytes, bytes, list[tuple[str, bytes]]]]) -> None:
    producer = Producer(producer_conf(settings))
    for key, value, headers in records:
        producer.produce(topic, key=key, value=value, headers=headers)
    assert producer.flush(30) == 0


def test_signed_records_round_trip_through_the_broker(settings: Settings) -> None:
    mk = KeyStore.from_settings(settings)
    al = KeyStore(settings.home / "al-keys")
    mk.generate("MK")
    al.generate("AL")
    old_signer = mk.signer("MK")
    mk.rotate("MK", timedelta(days=7))
    new_signer = mk.signer("MK")
    mk.import_trust(al.trust())  # the reader's view: both administrations' public keys
    trust = mk.trust()

    topic = settings.topic("raw")
    outgoing: list[tuple[bytes, bytes, list[tuple[str, bytes]]]] = []
    expected: dict[str, str] = {}

    def send(event_id: str, key: bytes, value: bytes, headers: list[tuple[str, bytes]],
             outcome: str) -> None:
        outgoing.append((key, value, [("event_id", event_id.encode()), *headers]))
        expected[event_id] = outcome

    key, value, eid = encoded(event_id="genuine")
    send(eid, key, value, sign(value, key, new_signer), new_signer.kid)
    key, value, eid = encoded(event_id="before-rotation")
    send(eid, key, value, sign(value, key, old_signer), old_signer.kid)
    # Altered on the way: another value (different plate) or another key under the same signature.
    key, value, eid = encoded(event_id="altered")
    _, other_value, _ = encoded(event_id="altered", vehicle_type="CAR")
    send(eid, key, other_value, sign(value, key, new_signer), "bad signature")
    key, value, eid = encoded(event_id="rekeyed")
    send(eid, b"SK1234AC", value, sign(value, key, new_signer), "bad signature")
    # Signed by MK's key but claiming to be AL's record: only AL's key may speak for AL.
    key, value, eid = encoded(event_id="impersonation", admin="AL", post="ALQTH01",
                              direction="ENTRY")
    send(eid, key, value, sign(value, key, new_signer), "record of administration 'AL'")
    key, value, eid = encoded(event_id="unsigned")
    send(eid, key, value, [], "unsigned")
    produce(settings, topic, outgoing)

    consumer = Consumer(consumer_conf(settings, f"{settings.topic_prefix}verify-test"))
    consumer.subscribe([topic])
    seen: dict[str, str] = {}
    deadline = time.monotonic() + 60
    try:
        while len(seen) < len(expected) and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                continue
            decoded = codec.decode("raw", msg.value())
            assert isinstance(decoded, dict), decoded
            result = verify(msg.value(), msg.key(), msg.headers(), trust, admin=decoded["admin"])
            seen[decoded["event_id"]] = (
                result.kid if isinstance(result, Verified) else result.reason
            )
            assert isinstance(result, Verified | Rejected)
    finally:
        consumer.close()
    assert set(seen) == set(expected), seen
    for event_id, outcome in expected.items():
        assert outcome in seen[event_id], (event_id, seen[event_id])
