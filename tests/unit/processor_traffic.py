"""Deterministic processor traffic and its fingerprint, for the differential test (issue 19).

The differential test compares the processor with the one of a named earlier commit without
keeping a copy of the old code: ``fingerprint`` runs the processor over seeded simulator traffic
with every kind of mess (exact and conflicting re-sends, physical duplicates, late arrivals,
at-least-once replays of a whole batch, stale events refused as replays, undecodable and invalid
records, inspections, signed, tampered and unknown-key records, foreign keys that are re-keyed,
the sweep and the TTL, a risk profile in force, signed share records) and reduces every batch to
digests: of each output record's bytes (stream, key, value, headers, partition), of the metric
tallies and of the *decoded* state (``normal_state``), so a change of the state's encoding
keeps the fingerprint while a change of one output byte does not.

Write the golden file at a commit whose processor is the reference:
``python -m tests.unit.processor_traffic`` (it names the commit in the file).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bordersync.border import BorderConfig, load_border_config
from bordersync.events import parse_time
from bordersync.plates import normalise_plate
from bordersync.security.signing import Signer, TrustedKey, TrustStore, sign
from bordersync.settings import Settings
from bordersync.wire import codec
from streams.batch import Load
from streams.logic.model import VehicleState
from streams.processor import BatchResult, InRecord, Processor, partition_for
from streams.risk.profiles import countersign, propose
from streams.risk.stage import RiskSources, RiskStage
from streams.state import DictStore
from streams.verify import RecordVerifier
from tooling.simulate import Mess, simulate

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "processor_differential.json"
START = datetime(2026, 11, 20, tzinfo=UTC)
PARTITIONS = 4
BATCH = 250
SWEEP_EVERY = 3  # batches
REPLAYED_BATCH = 4  # fed again after itself, as an at-least-once restart would
TTL = 3 * 3600  # short, so the TTL drops state within the simulated hours


def _signer(admin: str, name: str) -> tuple[Signer, TrustedKey]:
    """A key from a fixed seed: Ed25519 signatures are deterministic, so are the outputs."""
    private = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(f"{admin}:{name}".encode())
                                                   .digest())
    public = private.public_key().public_bytes(serialization.Encoding.Raw,
                                               serialization.PublicFormat.Raw)
    kid = f"{admin}:{name}"
    return (Signer(admin, kid, private),
            TrustedKey(kid, admin, public, not_before=START - timedelta(days=365)))


SIGNERS = {admin: _signer(admin, "diff-1") for admin in ("MK", "AL", "RS", "GR", "BG", "XK")}
STRANGER, _ = _signer("MK", "not-trusted")
PIPELINE, _ = _signer("BORDERSYNC", "pipeline-1")
TRUST = TrustStore.of([trusted for _, trusted in SIGNERS.values()])


def _risk(border: BorderConfig) -> RiskStage:
    sources = RiskSources(watch_keys={"MK": b"m" * 32, "AL": b"a" * 32}, trust=lambda: TRUST)
    doc = {"id": "heavy-truck", "version": 1, "parties": ["MK", "AL"], "owner": "MK",
           "rule": {"kind": "mass_band", "vehicle_types": ["TRUCK"], "min_kg": 0,
                    "max_kg": 25000},
           "channel": "RED", "weight": 60,
           "valid_from": (START - timedelta(days=30)).isoformat(),
           "valid_until": (START + timedelta(days=30)).isoformat(),
           "description": "a truck heavier than 25 t"}
    rec = countersign(propose(doc, SIGNERS["MK"][0]), SIGNERS["AL"][0])
    sources.apply("profiles", "heavy-truck@1", json.dumps(rec).encode())
    return RiskStage(border, sources)


def processor() -> Processor:
    settings = Settings(dedup_ttl_seconds=TTL)
    border = load_border_config(settings.border_config)
    return Processor(settings, border, PARTITIONS,
                     verifier=RecordVerifier(lambda: TRUST, required=False, max_age_seconds=TTL),
                     share_signer=PIPELINE, risk=_risk(border))


@dataclass
class Fed:
    record: InRecord
    event_time: datetime | None  # None: not a decodable event


def traffic(vehicles: int = 700) -> list[Fed]:
    """The simulator's messy traffic (arrival order) as raw records, with more mess added."""
    sim = simulate(seed=19, vehicles=vehicles, start=START, span=timedelta(hours=10),
                   mess=Mess(plate_clone=0.03, exact_resend=0.05, late_arrival=0.08))
    fed: list[Fed] = []
    for n, raw in enumerate(sim.events):
        t = parse_time(raw["event_time"])
        event = {**raw, "event_time": t}
        plate_key = normalise_plate(raw["plate"]).encode()
        key: bytes | None = plate_key
        value = codec.encode("raw", event)
        headers: list[tuple[str, bytes]] = [("trace", str(n).encode())]
        if n % 17 == 3:  # stale: signed and valid, but older than the TTL (a possible replay)
            event = {**event, "event_id": f"{raw['event_id']}-old", "event_time": t - timedelta(
                seconds=TTL + 60)}
            value = codec.encode("raw", event)
        if n % 3 == 0 or n % 17 == 3:
            signer = STRANGER if n % 101 == 0 else SIGNERS[raw["admin"]][0]
            headers += sign(value, key, signer)
            if n % 97 == 0:  # tampered after signing
                value = codec.encode("raw", {**event, "plate": event["plate"] + "9"})
        partition = partition_for(plate_key, PARTITIONS)
        if n % 53 == 5:  # a foreign producer's key: re-keyed to the vehicle's partition
            key, partition = raw["plate"].encode() + b"/x", (partition + 1) % PARTITIONS
        elif n % 59 == 7:
            key = None
        fed.append(Fed(InRecord(key, value, headers, "raw", partition, n), t))
        if n % 71 == 11:
            fed.append(Fed(InRecord(b"junk", b"\x02\xff not avro", [], "raw", 1, n), None))
        if n % 89 == 13:  # decodes, fails validation (unknown post)
            bad = codec.encode("raw", {**event, "event_id": f"{raw['event_id']}-bad",
                                       "post": "ZZBAD99"})
            fed.append(Fed(InRecord(key, bad, [], "raw", partition, n), t))
    return fed


def batches(fed: list[Fed]) -> Iterator[tuple[list[InRecord], datetime]]:
    """Batches with their processing clock: a little after the newest event time seen so far."""
    now = START
    chunks = [fed[i:i + BATCH] for i in range(0, len(fed), BATCH)]
    chunks.insert(REPLAYED_BATCH + 1, chunks[REPLAYED_BATCH])
    for chunk in chunks:
        times = [f.event_time for f in chunk if f.event_time is not None]
        now = max([now, *(t + timedelta(seconds=90) for t in times)])
        yield [f.record for f in chunk], now


def _hex(data: bytes | None) -> str | None:
    return None if data is None else data.hex()


def record_digest(stream: str, key: bytes | None, value: bytes | None,
                  headers: list[tuple[str, bytes]] | None, partition: int | None) -> str:
    doc = [stream, _hex(key), _hex(value),
           None if headers is None else [[n, v.hex()] for n, v in headers], partition]
    return hashlib.sha256(json.dumps(doc).encode()).hexdigest()


def _ms(time: float | None) -> int | None:
    """A time in integer ms: as it is when an int (the state's and the schedule's unit since
    integer ms), from float seconds when a float (the reference commit's unit)."""
    return time if time is None or isinstance(time, int) else round(time * 1000)


def normal_state(data: bytes | None) -> Any:
    """A vehicle's decoded state in a form independent of its encoding (times in integer ms)."""
    if data is None:
        return None
    st = VehicleState.decode(data)
    return {
        "seen": {k: [s.digest, _ms(s.seen_at), _ms(s.t), s.sig] for k, s in sorted(st.seen.items())},
        "pending": [[p.event_id, p.admin, p.post, p.crossing, p.direction, _ms(p.t),
                     _ms(p.arrived), p.vehicle_type, p.gross_mass_kg, p.seals, p.trailer_plate,
                     p.container_ids, p.passengers, p.alerted] for p in st.pending],
        "inspections": [[i.event_id, i.admin, i.crossing, i.inspection_type, i.result, _ms(i.t),
                         _ms(i.arrived), i.findings, i.seals_applied, i.measured_mass_kg]
                        for i in st.inspections],
        "risk": [[_ms(r[0]), *r[1:]] for r in st.risk],
    }


def _sha(doc: Any) -> str:
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def _batch_doc(result: BatchResult) -> dict[str, Any]:
    streams: dict[str, list[str]] = {}
    for out in result.outputs:
        streams.setdefault(out.stream, []).append(
            record_digest(out.stream, out.key, out.value, out.headers, out.partition))
    tally = [[m, list(labels), n] for (m, labels), n in sorted(result.tally.counts.items())]
    # Observations to the microsecond: float seconds of earlier commits carried noise below it
    # (a dwell of 2251.9329998493195 s, exactly 2251.933 from integer ms)
    observed = [[m, list(labels), repr(round(v, 6))] for m, labels, v in result.tally.observations]
    return {
        "outputs": {s: [len(d), _sha(d)] for s, d in sorted(streams.items())},
        "order": _sha([out.stream for out in result.outputs]),
        "tally": _sha(tally), "observations": _sha(observed),
        "state": _sha({p: normal_state(v) for p, v in sorted(result.state.items())}),
        "owner": _sha(sorted(result.owner.items())),
        "schedule": _sha({p: [_ms(due), list(c)] for p, (due, c) in sorted(result.schedule.items())}),
        "pending": dict(sorted(result.pending.items())),
    }


def fingerprint(vehicles: int = 700,
                after: Callable[[int, BatchResult], None] | None = None,
                live: DictStore | None = None) -> dict[str, Any]:
    """Every batch and sweep of the traffic through a fresh processor, reduced to digests;
    ``after`` sees each result first (the test of the comparison changes one byte there).
    ``live``: the workers' store, handing out the decoded states it keeps (else a dict)."""
    proc = processor()
    store: dict[str, bytes] = {} if live is None else live.state
    owner: dict[str, int] = {} if live is None else live.owner
    load: Load = store.get if live is None else live.take
    docs: list[dict[str, Any]] = []
    totals: Counter[str] = Counter()
    outputs: Counter[str] = Counter()
    fed = traffic(vehicles)
    offset = len(fed)
    rekeyed: list[InRecord] = []
    for n, (records, now) in enumerate(batches(fed)):
        result = proc.process(rekeyed + records, now, load)
        rekeyed = []
        for out in result.outputs:  # the re-keyed copies come back through the raw topic
            if out.stream == "raw":
                offset += 1
                rekeyed.append(InRecord(out.key, out.value, out.headers or [], "raw",
                                        out.partition or 0, offset))
        results = [result]
        _apply(result, store, owner, live)
        if n % SWEEP_EVERY == SWEEP_EVERY - 1:
            items = [(p, owner[p], v) for p, v in sorted(store.items())]
            sweep = proc.sweep(items if live is None else [
                (p, part, live.take(p) or v) for p, part, v in items], now)
            _apply(sweep, store, owner, live)
            results.append(sweep)
        for r in results:
            if after is not None:
                after(len(docs), r)
            docs.append(_batch_doc(r))
            totals.update({f"{m}{list(labels)}": c for (m, labels), c in r.tally.counts.items()})
            outputs.update(o.stream for o in r.outputs)
    return {
        "inputs": _sha([[_hex(f.record.key), _hex(f.record.value)] for f in fed]),
        "batches": docs,
        "outputs": dict(sorted(outputs.items())),
        "tally": dict(sorted(totals.items())),
        "final_state": _sha({p: normal_state(v) for p, v in sorted(store.items())}),
        "final_vehicles": len(store),
    }


def continue_from(store: dict[str, bytes], owner: dict[str, int], skip: int
                  ) -> dict[str, Any]:
    """The traffic's batches from ``skip`` on, over a restored ``store`` (a sweep first), reduced
    like ``fingerprint``; the state migration test runs it over a changelog of the old format."""
    proc = processor()
    docs, outputs = [], Counter[str]()
    for n, (records, now) in enumerate(batches(traffic())):
        if n < skip:
            continue
        if n == skip:
            sweep = proc.sweep([(p, owner[p], v) for p, v in sorted(store.items())], now)
            _apply(sweep, store, owner)
            docs.append(_batch_doc(sweep))
            outputs.update(o.stream for o in sweep.outputs)
        result = proc.process(records, now, store.get)
        _apply(result, store, owner)
        docs.append(_batch_doc(result))
        outputs.update(o.stream for o in result.outputs)
    return {"batches": docs, "outputs": dict(sorted(outputs.items())),
            "final_state": _sha({p: normal_state(v) for p, v in sorted(store.items())})}


def store_after(count: int) -> tuple[dict[str, bytes], dict[str, int]]:
    """The vehicles' state after the first ``count`` batches (what a changelog restores)."""
    proc = processor()
    store: dict[str, bytes] = {}
    owner: dict[str, int] = {}
    for n, (records, now) in enumerate(batches(traffic())):
        if n == count:
            break
        _apply(proc.process(records, now, store.get), store, owner)
    return store, owner


def _apply(result: BatchResult, store: dict[str, bytes], owner: dict[str, int],
           live: DictStore | None = None) -> None:
    """A committed batch's state changes (a worker's ``Runtime._write``)."""
    for plate, value in result.state.items():
        if live is not None:
            live.put(plate, result.owner[plate], value)
        elif value is None:
            store.pop(plate, None)
            owner.pop(plate, None)
        else:
            store[plate] = value
            owner[plate] = result.owner[plate]
    if live is not None:
        live.schedule(result)  # after the commit: the decoded states are kept


def differences(want: dict[str, Any], got: dict[str, Any]) -> list[str]:
    """Where two fingerprints differ, first batch first (empty: the same)."""
    found = [f"{name}: want {want[name]!r}, got {got[name]!r}"
             for name in ("inputs", "outputs", "tally", "final_state", "final_vehicles")
             if want[name] != got[name]]
    for n, (a, b) in enumerate(zip(want["batches"], got["batches"], strict=False)):
        found += [f"batch {n} {k}: want {a[k]!r}, got {b[k]!r}" for k in a if a[k] != b.get(k)]
    if len(want["batches"]) != len(got["batches"]):
        found.append(f"{len(want['batches'])} batches expected, {len(got['batches'])} run")
    return found


def main(argv: list[str]) -> int:
    """Write the golden file; run it in a clean checkout of the reference commit (``git archive
    <commit> | tar -x``), naming the commit when the checkout has no ``.git``."""
    root = Path(__file__).resolve().parents[2]
    commit = argv[0] if argv else subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
        check=True).stdout.strip()
    doc = {"generated_at_commit": commit,
           "generated_by": "python -m tests.unit.processor_traffic <commit>", **fingerprint()}
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    GOLDEN.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"{GOLDEN}: {len(doc['batches'])} batches, {sum(doc['outputs'].values())} records")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
