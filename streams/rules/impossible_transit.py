"""Alert ``IMPOSSIBLE_TRANSIT``: one plate at two different joint crossings closer in time than
any vehicle can drive between them — a cloned plate (two vehicles carrying one registration) or a
plate misread as another vehicle's.

Officers cannot see this from one crossing: each post sees an ordinary, even matched, passage.
The worker sees every crossing of a normalised plate in one partition (the plate is the key), so
the vehicle's dedup memory (``VehicleState.seen``: post, direction and event time of every
forwarded crossing, kept for the dedup TTL) is enough — no new state.

The joint crossings in bordersync/data/border.json are all on North Macedonia's borders; the two
closest by road (Blace and Tabanovce) are about an hour apart, so 30 minutes is a conservative
physical minimum: no false alert from a genuine vehicle, and a clone used the same morning is
still caught. Raised once per new crossing, naming the closest conflicting earlier one.
"""

from __future__ import annotations

from collections import defaultdict
from functools import lru_cache
from typing import Any

from bordersync.events import parse_time
from bordersync.plates import normalise_plate
from streams.logic.events import CrossingEvent, time_text
from streams.rules.base import Context, Finding, Observed, OracleView, expected

TYPE = "IMPOSSIBLE_TRANSIT"
MIN_SECONDS_BETWEEN_CROSSINGS = 30 * 60.0
# the same in ms, the unit of event times in state and in typed events
_MIN_MS = round(MIN_SECONDS_BETWEEN_CROSSINGS * 1000)
SUMMARY = ("one normalised plate at two different crossings less than 30 min apart by event time: "
           "cloned or misread plate (`event_ids`: both crossings)")


def check(ctx: Context) -> Finding | None:
    # One unpacking of the named tuple: each field read by name is a descriptor call
    e, crossing, st, crossing_of_post, _, _, _, _ = ctx
    if not isinstance(e, CrossingEvent) or st is None or crossing_of_post is None \
            or crossing is None:
        return None
    t = e.event_time_ms  # epoch ms, as the state's ``Seen.t``
    best: tuple[int, str, str] | None = None
    event_id = e.event_id
    for other_id, seen in st.seen.items():
        gap = seen.t - t  # |gap| < the minimum without an abs() call (the common case: not)
        if -_MIN_MS < gap < _MIN_MS and seen.sig \
                and other_id != event_id:  # a forwarded crossing (not an inspection, not a
            # physical duplicate), not itself, close in time: at another crossing?
            post, direction = _sig(seen.sig)
            other = crossing_of_post(post)
            if other is not None and other.id != crossing:
                candidate = (abs(gap), other_id,
                             f"{post} {direction} {time_text(seen.t)}")
                best = candidate if best is None or candidate[:2] < best[:2] else best
    if best is None:
        return None
    gap, other_id, where = best
    return Finding([other_id, event_id],
                   f"plate {normalise_plate(e.plate)} at {where} and at {e.post} "
                   f"{e.direction} {time_text(e.event_time_ms)}, {gap / 60_000:.0f} min apart at "
                   f"two different crossings: cloned or misread plate")


# "post|direction" (Seen.sig) -> (post, direction), remembered as normalise_plate is: no
# partition() and its three new strings a close crossing. Few: validated posts times two.
@lru_cache(maxsize=4096)
def _sig(sig: str) -> tuple[str, str]:
    post, _, direction = sig.partition("|")
    return post, direction


def expect(view: OracleView) -> list[dict[str, Any]]:
    """Forwarded crossings in arrival order, per normalised plate: each one closer than the
    minimum to an earlier one at another crossing raises one alert with the closest."""
    earlier: dict[str, list[Observed]] = defaultdict(list)
    out = []
    for o in view.forwarded:
        if o.event["kind"] != "crossing":
            continue
        plate = normalise_plate(o.event["plate"])
        t = _time(o.event["event_time"]).timestamp()
        close = sorted((abs(_time(p.event["event_time"]).timestamp() - t), p.event["event_id"])
                       for p in earlier[plate] if p.crossing != o.crossing)
        if close and close[0][0] < MIN_SECONDS_BETWEEN_CROSSINGS:
            out.append({**expected(TYPE, o, [close[0][1], o.event["event_id"]]), "plate": plate})
        earlier[plate].append(o)
    return out


def _time(value: Any) -> Any:
    """Simulated events carry ISO strings, validated ones datetimes."""
    return parse_time(value) if isinstance(value, str) else value
