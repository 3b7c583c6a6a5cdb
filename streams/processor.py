"""The stream processor as a pure batch function: raw records in, output records and state
changes out. Both engines drive it through the one runtime (``streams.runtime``).

Per-vehicle state lives under the normalised plate, which is also the raw topic's key, so one
partition owns everything about one vehicle.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from bordersync.border import BorderConfig
from bordersync.catalogue import share_stream
from bordersync.events import InvalidEvent
from bordersync.plates import normalise_plate
from bordersync.security.signing import Rejected, Signer, sign
from bordersync.settings import Settings
from bordersync.wire import codec, splicing
from bordersync.wire.codec import DecodeError
from streams.batch import STATS_FACTS, Batch, BatchResult, InRecord, Load, OutRecord, Plan, partition_for
from streams.dlq import dead_letter
from streams.logic import dwell, matching, schedule
from streams.logic.alerts import alert
from streams.logic.dedup import _CONFLICTING, _EXACT, _NEW, admit, border_fold, remember_conflict, validated
from streams.logic.events import crossing_event, event_of, inspection_event
from streams.logic.model import HeldInspection, Pending, VehicleState, to_epoch_ms
from streams.logic.sharing import ShareRouter, alert_route, filter_fields
from streams.logic.stats import DWELL, EVENT, MATCHED, UNMATCHED, fact_row
from streams.risk.stage import RiskStage
from streams.rules import CROSSING_RULES, ON_CLEAN_PAIRS, ON_FIRST_EVENT, Context, Trigger, find_discrepancies
from streams.rules import at as rules_at
from streams.verify import Checked, RecordVerifier, forwarded_headers

REKEY_HEADER = "bordersync.rekeyed-from"
_UNCHECKED = Checked()  # frozen: one instance serves every record without a verifier
OUT_STREAM = {"crossing": "crossings", "inspection": "inspections"}
_ENRICHED = ("crossing", "plate_normalised")  # the fields a forwarded event gains, in order
__all__ = ["REKEY_HEADER", "STATS_FACTS", "BatchResult", "InRecord", "OutRecord", "Processor",
           "partition_for"]
_Batch = Batch  # the name tests and the bench's stage clocks know
_new = tuple.__new__  # a Context from a tuple in one C call (no Python __new__)
# groups, their share streams, the tally keys of one emit, its OutRecords (OutRecord.builder)
_Route = tuple[list[tuple[tuple[str, ...], list[str]]], list[list[str]],
               list[tuple[str, tuple[str, ...]]], Callable[[bytes, list[bytes]], tuple[OutRecord, ...]]]


class Processor:
    def __init__(self, settings: Settings, border: BorderConfig, partitions: int,
                 encode: Callable[[str, dict[str, Any]], bytes] = codec.encode,
                 verifier: RecordVerifier | None = None,
                 share_signer: Signer | None = None, risk: RiskStage | None = None) -> None:
        self.settings = settings
        self.risk = risk  # None: no risk assessment (streams/risk, docs/risk.md)
        # None: no signature checks (logic tests); the engines pass one built from settings.
        self.verifier = verifier
        # The pipeline key (kid BORDERSYNC:...) signing share records; None: sent unsigned.
        self.share_signer = share_signer
        self.encode = encode  # injectable so logic tests do not depend on the wire schemas
        self.border = border
        self.partitions = partitions
        self.router = ShareRouter(border)
        # Every time of the state in integer ms (streams.logic.model), so these are too
        self.windows = {c.id: c.window_minutes * 60_000 for c in border.crossings}
        self._default_window = settings.default_window_minutes * 60_000
        self._ttl = settings.dedup_ttl_seconds * 1000  # settings are frozen: converted once
        self._grace = settings.grace_seconds * 1000  # (and read once: a pydantic field ~0.1 µs)
        self._tolerance = settings.mass_tolerance_pct
        self._duplicate_window = settings.duplicate_window_seconds * 1000
        self._crossing_of_post = {p: c for c in border.crossings for p in c.sides.values()}
        # post -> its crossing's id (Crossing.id: a slow pydantic read), its events_in tally key
        self._of_post = {p: (c.id, ("events_in", ("raw", c.id))) for p, c in self._crossing_of_post.items()}
        self._fold = border_fold(border)  # validated folded into the raw reader, for this border
        # (stream, crossing) -> agency groups, their share streams, the tally keys of one emit
        self._routes: dict[tuple[str, str], _Route] = {}
        self._rules_at = {t: rules_at(t) for t in Trigger}  # the rule table's, looked up once

    # --- the batch function ------------------------------------------------------------------

    def process(self, records: Sequence[InRecord], now: datetime,
                load: Load) -> BatchResult:
        failed: dict[int, str] = {}
        while True:
            batch = Batch(load, to_epoch_ms(now))
            # The codec's splicing, looked up once a batch; None: an injected encoder (tests).
            batch.splice = splicing.current() if self.encode is codec.encode else None
            current: int | None = None
            try:
                for index, rec in enumerate(records):
                    if index in failed:
                        self._dead(batch, rec, failed[index], "encode")
                        continue
                    current = index
                    self._one(batch, rec, now)
                    current = None
                return self._scheduled(self._finish(batch), batch, batch.dirty)
            except (ValueError, TypeError) as exc:  # codec.EncodeError is a ValueError
                if current is None:
                    raise
                # An output of this record does not fit its schema. Redo the batch without the
                # record's effects (nothing was applied: state changes are only returned, and a
                # decoded state is handed out once — batch.Load — so the redo decodes it again),
                # so a DLQ replay after the fix is not mistaken for a duplicate. Rare.
                failed[current] = f"offset {records[current].offset}: {exc}"

    def sweep(self, items: Iterable[tuple[str, int, bytes | VehicleState]],
              now: datetime) -> BatchResult:
        """Raise UNMATCHED_* for pending events past their deadline and apply the TTL.

        ``items`` are (plate, partition, state) of the partitions this worker owns.
        """
        batch = Batch(lambda _plate: None)
        batch.splice = splicing.current() if self.encode is codec.encode else None
        t_now = to_epoch_ms(now)
        ttl, grace = self._ttl, self._grace
        for plate, partition, data in items:
            st = data if isinstance(data, VehicleState) else VehicleState.decode(data)
            batch.cache[plate] = st
            batch.result.owner[plate] = partition
            changed = st.expire(t_now, ttl)
            for p in st.pending:
                window = self.windows.get(p.crossing, self._default_window)
                if not p.alerted and t_now >= matching.deadline(p, window, grace):
                    p.alerted = True
                    changed = True
                    self._unmatched(batch, plate, p, now)
                batch.result.pending[p.crossing] += 1
            if changed:
                batch.dirty.add(plate)
        return self._scheduled(self._finish(batch), batch, batch.cache)

    def _finish(self, batch: Batch) -> BatchResult:
        """The batch's result, its outputs' tallies included: ``_emit`` notes each emit's route,
        here they are counted (in C) and each route's keys take that count, so every key is
        hashed once a batch instead of once an output."""
        counts = batch.result.tally.counts
        for route, n in Counter(batch.routed).items():
            for key in self._routes[route][2]:
                counts[key] += n
        return batch.finish()

    def _scheduled(self, result: BatchResult, batch: Batch, plates: Iterable[str]) -> BatchResult:
        default, grace, ttl = self._default_window, self._grace, self._ttl
        cache, windows, due, scheduled = batch.cache, self.windows, schedule.next_due, \
            result.schedule  # looked up once, not once a vehicle
        for plate in plates:
            st = cache[plate]
            scheduled[plate] = (due(st, windows, default, grace, ttl),
                                schedule.pending_crossings(st) if st.pending else ())
        return result

    # --- one raw record ----------------------------------------------------------------------

    def _one(self, batch: Batch, rec: InRecord, now: datetime) -> None:
        tally, splice = batch.result.tally, batch.splice
        spliced = None if splice is None else splice.read("raw", rec.value, self._fold)
        decoded = codec.decode("raw", rec.value) if spliced is None else spliced[0]
        if isinstance(decoded, DecodeError):
            self._dead(batch, rec, f"offset {rec.offset}: {decoded.reason}", "decode")
            return
        folded = None if spliced is None else spliced[2]  # the digest; [3]: t = to_epoch_ms()
        try:  # validate, content_digest: folded into the read (valid: no call), else one pass
            event, digest = (decoded, folded) if folded is not None else validated(decoded, self.border)
        except InvalidEvent as exc:
            self._dead(batch, rec, f"event {decoded.get('event_id')!r}: {exc}", "validate")
            return
        checked = _UNCHECKED
        if self.verifier is not None:
            signature = self.verifier.check(rec.value, rec.key, rec.headers, event["admin"], now)
            if isinstance(signature, Rejected):
                self._dead(batch, rec, f"event {event['event_id']!r}: {signature.reason}",
                           "signature")
                return
            checked = signature
            stale = self.verifier.stale(event["event_time"], now)
            if stale is not None:
                self._dead(batch, rec, f"event {event['event_id']!r}: {stale.reason}", "replay")
                return
        cid, events_in = self._of_post[event["post"]]  # validate() checked the post
        plate = normalise_plate(event["plate"])
        key = plate.encode()
        tally.counts[events_in] += 1
        if rec.key != key and partition_for(key, self.partitions) != rec.partition:
            # A foreign producer keyed it differently: send it where this vehicle's state lives.
            # Verified above against the key it was signed with; that key travels along.
            headers = [*forwarded_headers(rec.headers, checked),
                       (REKEY_HEADER, f"{rec.partition}:{rec.offset}".encode())]
            batch.result.outputs.append(OutRecord(
                "raw", key, rec.value, headers, partition_for(key, self.partitions)))
            return
        st = batch.cache.get(plate) or batch.state(plate)  # in the batch already: no call
        batch.result.owner[plate] = rec.partition
        t_now = batch.t_now
        t = to_epoch_ms(event["event_time"]) if folded is None else spliced[3]  # type: ignore[index]
        verdict = admit(st, event, digest, self._duplicate_window, t_now, t)  # and remembers it
        if verdict is not _NEW:  # the verdicts as dedup's globals: an Enum member read is slow
            if verdict is _EXACT:
                tally.inc("duplicates", "exact")
                return
            batch.dirty.add(plate)
            if verdict is _CONFLICTING:
                tally.inc("duplicates", "conflicting")
                remember_conflict(st, event, digest)
                self._rules(batch, Trigger.DUPLICATE, Context(event=event_of(event, t), crossing=cid), cid,
                            plate, now)
            else:
                tally.inc("duplicates", "physical")
            return
        batch.dirty.add(plate)
        st.expire(t_now, self._ttl)
        # The forwarded record: the event enriched in place, not copied — it is this record's
        # own (``validated`` hands over the decoded record or validate's copy), and what reads
        # it from here on (rules, pending, risk) reads fields, never the whole dict
        enriched = event
        event["crossing"], event["plate_normalised"] = cid, plate
        chunks = None if spliced is None or splice is None else splice.chunks(  # enriched, as bytes
            OUT_STREAM[event["kind"]], spliced[1], _ENRICHED, (cid, plate))
        self._emit(batch, OUT_STREAM[event["kind"]], cid, key, enriched, now,
                   event["event_time"], None, chunks)
        if event["kind"] == "inspection":
            st.inspections.append(HeldInspection.from_event(event, cid, t_now, t))
            if self.risk is not None:
                self.risk.on_inspection(st, event, cid, tally, t)
            self._dwell_of_inspection(batch, st, event, cid, t)
            self._rules(batch, Trigger.INSPECTION, Context(event=inspection_event(event, t), crossing=cid),
                        cid, plate, now)
            return
        batch.facts.append((cid, event["direction"], t / 1000, EVENT, None))  # stats.FactRow
        if st.inspections:  # none held: no dwell (dwell.for_crossing), not even a call
            self._dwell_of_crossing(batch, st, event, cid, t)
        if self.risk is not None:
            self._emit(batch, "risk", cid, key, self.risk.on_crossing(st, event, plate, (
                self._crossing_of_post[event["post"]]), now, tally, t), now, event["event_time"])
        if len(st.seen) > 1 or ON_FIRST_EVENT:  # only this event remembered: no rule to ask
            ctx = _new(Context, (crossing_event(event, t), cid, st,  # a tuple: no Python __new__ call
                                 self._crossing_of_post.get, None, None, None, ()))
            for rule in CROSSING_RULES:  # by name: a Trigger member costs a slow class lookup
                found = rule.check(ctx)
                if found is not None:
                    self._alert(batch, rule.type, cid, plate, found.event_ids, found.detail, now)
        if chunks is not None:  # its last, the whole record, was emitted: a match needs fields
            del chunks[-1]
        new = Pending.from_event(event, cid, t_now, t, event["event_time"], chunks)
        self._match(batch, st, plate, key, new, now)

    def _match(self, batch: Batch, st: VehicleState, plate: str, key: bytes, new: Pending,
               now: datetime) -> None:
        window = self.windows[new.crossing]
        # none pending (a vehicle's first crossing): no partner to look for, no call
        index = matching.find_partner(st.pending, new, window) if st.pending else None
        if index is None:
            st.pending.append(new)
            return
        other = st.pending.pop(index)
        exit_, entry = (other, new) if other.direction == "EXIT" else (new, other)
        late = other.alerted or batch.t_now > other.t + window + self._grace
        found = find_discrepancies(exit_, entry, self._tolerance)
        held = matching.take_exit_inspections(st, exit_, window) if st.inspections else []
        # positional (one per match): exit_, entry, plate, discrepancies, inspections, late, now
        record = matching.matched_record(exit_, entry, plate, found, held, late, now)
        tally = batch.result.tally
        if self.risk is not None:
            self.risk.on_matched(st, record, tally)
        transit = record["transit_seconds"]  # Tally.inc's, .observe's increments (no calls); facts
        tally.counts[("matched", (new.crossing,))] += 1
        tally.observations.append(("transit", (new.crossing,), transit))
        for d in found:
            tally.inc("discrepancies", new.crossing, d["field"])
        chunks = None  # spliced from the two crossings' records while both are in memory
        if batch.splice is not None and exit_.chunks is not None and entry.chunks is not None:
            chunks = batch.splice.pair_chunks("crossings", "matched", (exit_.chunks, entry.chunks),
                                              record, matching.MATCHED_FROM)
        self._emit(batch, "matched", new.crossing, key, record, now,  # the later time, no max()
                   record["entry_time" if entry.t > exit_.t else "exit_time"], None, chunks)
        batch.facts += (  # a MATCHED fact of each side as its row (stats.FactRow), no loop
            (exit_.crossing, exit_.direction, exit_.t / 1000, MATCHED, transit),
            (entry.crossing, entry.direction, entry.t / 1000, MATCHED, transit))
        if found or ON_CLEAN_PAIRS:  # a pair without discrepancies: no rule to ask (the table's)
            self._rules(batch, Trigger.MATCHED, _new(Context, (  # all fields, as a tuple (above)
                None, None, None, None, None, exit_, entry, tuple(found))), new.crossing,
                plate, now)

    # --- dwell time at the post (docs/streams.md) --------------------------------------------

    # (facts in seconds, the stats-facts rows' unit: ms / 1000 is the float round(s, 3) gave)
    def _dwell_of_crossing(self, batch: Batch, st: VehicleState, event: dict[str, Any],
                           crossing: str, t: int) -> None:
        value = dwell.for_crossing(event["direction"], event["admin"], crossing, t,
                                   st.inspections, self.windows[crossing])
        if value is not None:
            batch.facts.append(fact_row(crossing, event["direction"], t / 1000, DWELL,
                                        value / 1000, event["event_id"]))

    def _dwell_of_inspection(self, batch: Batch, st: VehicleState, event: dict[str, Any],
                             crossing: str, t: int) -> None:
        found = dwell.for_inspection(event["post"], t, st.seen, self.windows[crossing])
        if found is not None:
            event_id, direction, at, value = found
            batch.facts.append(fact_row(crossing, direction, at / 1000, DWELL, value / 1000,
                                        event_id))

    # --- outputs -----------------------------------------------------------------------------

    def _unmatched(self, batch: Batch, plate: str, p: Pending, now: datetime) -> None:
        batch.result.tally.inc("unmatched", p.crossing, p.direction)
        batch.facts.append(fact_row(p.crossing, p.direction, p.t / 1000, UNMATCHED))
        self._rules(batch, Trigger.DEADLINE, Context(pending=p, crossing=p.crossing), p.crossing,
                    plate, now)

    def _rules(self, batch: Batch, trigger: Trigger, ctx: Context, crossing: str, plate: str,
               now: datetime) -> None:
        """Ask every rule registered for ``trigger`` (streams.rules); alert on each finding."""
        for rule in self._rules_at[trigger]:
            found = rule.check(ctx)
            if found is not None:
                self._alert(batch, rule.type, crossing, plate, found.event_ids, found.detail, now)

    def _alert(self, batch: Batch, type_: str, crossing: str, plate: str, ids: list[str],
               detail: str, now: datetime) -> None:
        record = alert(type_, crossing=crossing, plate=plate, event_ids=ids, detail=detail,
                       raised_at=now)
        batch.result.tally.inc("alerts", type_, crossing)
        # Alerts that reveal an inspection's result route apart (streams.logic.sharing).
        self._emit(batch, "alerts", crossing, plate.encode(), record, now, None,
                   alert_route(type_))

    def _emit(self, batch: Batch, stream: str, crossing: str, key: bytes, record: dict[str, Any],
              now: datetime, event_time: datetime | None, route_as: str | None = None,
              chunks: list[bytes] | None = None) -> None:
        route = (route_as or stream, crossing)
        build, encode, groups, targets = batch.plans.get(route) or \
            self._plan(batch, route, stream, crossing, route_as)
        # The record and every projection from one encoding of its fields (avro_share), spliced
        # from the input when ``chunks`` are given. None: no such path, or the record misfits.
        values = None if encode is None else encode(record, groups, now, chunks)
        if values is not None:  # the record and its copies, none signed
            batch.result.outputs += build(key, values)
        else:
            splice = batch.splice
            both = None if splice is None else splice.encode(stream, record, groups, now, chunks)
            value, copies = both or (self.encode(stream, record), None)
            batch.result.outputs.append(OutRecord(stream, key, value))
            self._shares(batch, stream, key, record, now, groups, targets, copies)
        batch.routed.append(route)  # the route's tally keys: counted in _finish
        if groups and event_time is not None:  # Tally.observe's append, without its call
            late = (now - event_time).total_seconds()  # then max(0.0, late), without its call
            batch.result.tally.observations.append(("latency", (stream,), late if late > 0 else 0.0))

    def _plan(self, batch: Batch, route: tuple[str, str], stream: str, crossing: str,
              route_as: str | None) -> Plan:
        """An emit's route for this batch, the shared encoder's ``encode_flat`` included when
        the common path applies (the splicing codec, agencies to share with, no signer)."""
        groups, targets, _, build = self._routes.get(route) or \
            self._route(stream, crossing, route_as)
        splice = batch.splice if groups and self.share_signer is None else None
        shared = None if splice is None else splice.codec.shared_encoder(stream)
        plan = batch.plans[route] = (
            build, None if shared is None else shared.encode_flat, groups, targets)
        return plan

    def _shares(self, batch: Batch, stream: str, key: bytes, record: dict[str, Any],
                now: datetime, groups: list[tuple[tuple[str, ...], list[str]]],
                targets: list[list[str]], copies: list[list[bytes]] | None) -> None:
        """The share records of one output: ``copies`` when encoded with it, each signed when
        the processor has a signer."""
        signer = self.share_signer
        for index, (fields, agencies) in enumerate(groups):
            if copies is not None:
                values = copies[index]
            else:
                # Agencies with the same agreement get the same projection: encode it once.
                projection = {"stream": stream, "shared_at": now,
                              "record": filter_fields(record, fields)}
                values = codec.encode_share_copies(projection, agencies) \
                    if self.encode is codec.encode else \
                    [self.encode("share", {**projection, "agency": a}) for a in agencies]
            for share, value in zip(targets[index], values, strict=True):
                signed = None if signer is None else sign(value, key, signer)
                batch.result.outputs.append(OutRecord(share, key, value, signed))

    def _route(self, stream: str, crossing: str, route_as: str | None = None) -> _Route:
        groups = self.router.groups(route_as or stream, crossing)
        targets = [[share_stream(a) for a in agencies] for _, agencies in groups]
        keys: list[tuple[str, tuple[str, ...]]] = [("events_out", (stream, crossing))]
        for (_, agencies), shares in zip(groups, targets, strict=True):
            for agency, share in zip(agencies, shares, strict=True):
                keys += [("events_out", (share, crossing)), ("shared", (agency, stream))]
        route = self._routes[(route_as or stream, crossing)] = (
            groups, targets, keys, OutRecord.builder([stream, *(s for shares in targets for s in shares)]))
        return route

    def _dead(self, batch: Batch, rec: InRecord, error: str, stage: str) -> None:
        letter = dead_letter(key=rec.key, value=rec.value, original_headers=rec.headers,
                             error=error, stage=stage, topic=rec.topic, partition=rec.partition,
                             offset=rec.offset, timestamp=rec.timestamp)
        batch.result.outputs.append(OutRecord("dlq", letter.key, letter.value, letter.headers))
        batch.result.tally.inc("dlq", rec.topic, stage)
        batch.result.tally.inc("events_in", "raw", "unknown")
