"""Deduplication: exact re-sends, conflicting re-sends and the same crossing logged twice."""

from __future__ import annotations

import ast
import functools
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from enum import Enum
from json.encoder import encode_basestring as _escape  # the encoder's (C) escaping, ensure_ascii off
from string import ascii_uppercase
from typing import Any

from bordersync.border import BorderConfig
from bordersync.events import (
    FIELD_KINDS,
    TEST_SCOPE,
    field_tests,
    format_time,
    read_tests,
    to_json_dict,
    validate,
)
from bordersync.wire.avro_splice import Fold, FoldField
from streams.logic.model import Seen, VehicleState, _new, to_epoch_ms


class Verdict(Enum):
    NEW = "new"
    EXACT = "exact"  # same id, same content: dropped silently
    CONFLICTING = "conflicting"  # same id, different content: alert, not forwarded
    PHYSICAL = "physical"  # other id, same admin/post/direction/plate within the window


# admit's verdicts as globals: one lookup each, not a global's and the enum class's
_NEW, _EXACT, _CONFLICTING, _PHYSICAL = Verdict.NEW, Verdict.EXACT, Verdict.CONFLICTING, \
    Verdict.PHYSICAL


# One encoder for every digest: json.dumps would build it (and check its options) per call.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
_ORDER: dict[tuple[str, ...], tuple[tuple[str, str], ...]] = {}  # field order -> sorted, escaped
_ORDERS_KEPT = 4096


def content_digest(event: dict[str, Any]) -> str:
    """A stable hash of the validated event (canonical JSON), independent of the wire codec.

    The digest is stored in every vehicle's state, so it must never change: the canonical text
    is built here from the validated event's few value types (strings, integers, lists of
    strings, the UTC event time) with the JSON encoder's own string escaping, cheaper than
    ``_CANONICAL`` sorting and walking a new dict per event; any other value takes the encoder
    (a property test pins the two as equal).
    """
    names = tuple(event)
    fields = _ORDER.get(names)
    if fields is None:
        fields = tuple((k, _escape(k)) for k in sorted(event))
        if len(_ORDER) < _ORDERS_KEPT:  # field orders come from the codec: a handful
            _ORDER[names] = fields
            _DIGESTS[names] = _generate(fields)
    text = _DIGESTS.get(names, _no_text)(event)
    if text is not None:
        return hashlib.sha256(text.encode()).hexdigest()[:16]
    parts = []
    for name, quoted in fields:
        value = event[name]
        kind = type(value)
        if kind is str:
            parts.append(f"{quoted}:{_escape(value)}")
        elif kind is int:
            parts.append(f"{quoted}:{value!r}")
        elif kind is list and all(type(v) is str for v in value):
            parts.append(f"{quoted}:[{','.join(map(_escape, value))}]")
        elif kind is datetime and value.tzinfo is UTC:
            parts.append(f"{quoted}:{_escape(format_time(value))}")
        else:
            return _slow_digest(event)
    return hashlib.sha256(f"{{{','.join(parts)}}}".encode()).hexdigest()[:16]


_TIME_TYPE = "type({v}) is datetime and {v}.tzinfo is UTC"
_KINDS = {"str": "type({v}) is str", "int": "type({v}) is int",
          "list": "type({v}) is list and all(type(x) is str for x in {v})", "time": _TIME_TYPE}
_TEXT = {"str": "_escape({v})", "int": "repr({v})", "list": "'[' + ','.join(map(_escape, {v})) + ']'",
         # format_time of a UTC datetime: its isoformat to the millisecond, "+00:00" as "Z"
         # (digits: no escaping), by %-formatting its fields: isoformat with a timespec cost
         # several times as much
         "time": "_ISO % ({v}.year, {v}.month, {v}.day, {v}.hour, {v}.minute, {v}.second, "
                 "{v}.microsecond // 1000)"}
_ISO = '"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ"'
_DIGESTS: dict[tuple[str, ...], Callable[[dict[str, Any]], str | None]] = {}


def _no_text(_event: dict[str, Any]) -> None:
    return None


def _generate(fields: tuple[tuple[str, str], ...]) -> Callable[[dict[str, Any]], str | None]:
    """The canonical text of events with these fields, as one generated function: the loop of
    ``content_digest`` unrolled for the field kinds validation gives (``FIELD_KINDS``), each value's
    type checked first (None: another type, the loop decides). Names are only ``repr()`` literals."""
    if not fields or not all(name in FIELD_KINDS for name, _ in fields):
        return _no_text
    lines = ["def text(e):"]
    parts = []
    for i, (name, quoted) in enumerate(fields):
        kind = FIELD_KINDS[name]
        lines += [f"    v{i} = e[{name!r}]",
                  f"    if not ({_KINDS[kind].format(v=f'v{i}')}): return None"]
        parts += [repr(("{" if i == 0 else ",") + quoted + ":"), _TEXT[kind].format(v=f"v{i}")]
    lines.append(f"    return ''.join(({', '.join(parts)}, '}}'))")
    scope: dict[str, Any] = {"_escape": _escape, "datetime": datetime, "UTC": UTC, "_ISO": _ISO}
    exec("\n".join(lines), scope)
    generated: Callable[[dict[str, Any]], str | None] = scope["text"]
    return generated


_Fused = Callable[[dict[str, Any], dict[str, str]], str | None]
_FUSED: dict[tuple[str, ...], _Fused] = {}
# What check_relations accepts as a code (events' ``^[A-Z]{2}$``, bar the trailing newline that
# ``$`` lets through: validate decides that one)
_ALPHA2 = frozenset(a + b for a in ascii_uppercase for b in ascii_uppercase)
_posts: tuple[BorderConfig | None, dict[str, str]] = (None, {})


def _post_admins(border: BorderConfig) -> dict[str, str]:
    """Post -> its administration, for administrations that are codes in ``_ALPHA2`` (a post
    of any other is left to validate), rebuilt only when another border configuration comes."""
    global _posts
    _posts = (border, {p: a for c in border.crossings for a, p in c.sides.items() if a in _ALPHA2})
    return _posts[1]


def validated(obj: object, border: BorderConfig,
              digest: str | None = None) -> tuple[dict[str, Any], str]:
    """``validate(obj, border)`` and that event's ``content_digest`` in one pass for the common
    valid event: one function generated per field order checks every field as ``validate`` does
    (``events.field_tests``) and builds the canonical text from the same values, so each value is
    looked up once instead of twice and neither its type nor the field order is looked at again.
    Anything else takes ``validate`` and ``content_digest``: the same event, digest or refusal
    (``InvalidEvent``) either way (tests/unit/test_content_digest.py). The event is ``obj``
    itself when valid as it is (the processor's decoded record, used for nothing else: a copy
    per event cost more than it bought), else validate's copy. ``digest``: the record's, read
    with ``fold`` (which passed it); the checks across fields are left, as in ``_fuse``."""
    if digest is not None:  # then ``obj`` is the reader's dict
        posts = _posts[1] if _posts[0] is border else _post_admins(border)
        if posts.get(obj["post"]) == obj["admin"] and obj["nationality"] in _ALPHA2:  # type: ignore[index]
            return obj, digest  # type: ignore[return-value]
    elif type(obj) is dict:
        names = tuple(obj)
        fused = _FUSED.get(names)
        if fused is None:
            fused = _fuse(names)
            if len(_FUSED) < _ORDERS_KEPT:  # field orders come from the codec: a handful
                _FUSED[names] = fused
        text = fused(obj, _posts[1] if _posts[0] is border else _post_admins(border))
        if text is not None:  # ``obj`` itself, not validate's copy: the caller hands it over
            return obj, hashlib.sha256(text.encode()).hexdigest()[:16]
    event = validate(obj, border)
    return event, content_digest(event)


def _no_fused(_event: dict[str, Any], _posts: dict[str, str]) -> None:
    return None


def _fuse(names: tuple[str, ...]) -> _Fused:
    """The generated check-and-text of ``validated`` (``_no_fused``: none for these names).
    Names are only ``repr()`` literals; the values, once their tests pass, have the types
    ``FIELD_KINDS`` names, so the text needs no type check. After the fields' own tests,
    ``check_relations``'s, inline (a call each cost more): the post's administration is the
    event's (``posts``: ``_post_admins``), the nationality a code; anything else gives None
    and validate says why."""
    tests = field_tests(names)
    if tests is None or not names or not all(name in FIELD_KINDS for name in names) \
            or not {"admin", "post", "nationality"} <= set(names):
        return _no_fused
    lines = ["def fused(o, posts):"]
    for i, (name, test) in enumerate(zip(names, tests, strict=True)):
        lines += [f"    v{i} = o[{name!r}]", f"    if not ({test}): return None"]
    admin, post, nation = map(names.index, ("admin", "post", "nationality"))
    lines.append(f"    if posts.get(v{post}) != v{admin} or v{nation} not in _ALPHA2: return None")
    parts = []
    for j, i in enumerate(sorted(range(len(names)), key=names.__getitem__)):
        parts += [repr(("{" if j == 0 else ",") + _escape(names[i]) + ":"),
                  _TEXT[FIELD_KINDS[names[i]]].format(v=f"v{i}")]
    lines.append(f"    return ''.join(({', '.join(parts)}, '}}'))")
    scope: dict[str, Any] = {**TEST_SCOPE, "_escape": _escape, "_ISO": _ISO, "_ALPHA2": _ALPHA2}
    exec("\n".join(lines), scope)
    generated: _Fused = scope["fused"]
    return generated


# ``_TEXT`` for a fold: the digest's text of a field from the reader's local ``{v}``
# (a list's "[" joins its field's prefix; one item, the most common, escaped without a join)
_READ_TEXT = {**_TEXT, "str": "_escape({v})",
              "list": "(_escape({v}[0]) if len({v}) == 1 else ','.join(map(_escape, {v}))) + ']'"}
# A fold's event time, from its milliseconds ``m`` (the reader's ``mx<i>``): ``_ISO``'s text in
# pieces, floor division and modulo giving the fields of times before 1970 too. ``_ISO`` cost
# about 11,000 instructions an event (seven %02d conversions); these pieces about a fifth.
_D2 = tuple(f"{n:02d}" for n in range(100))
_D3 = tuple(f".{n:03d}Z\"" for n in range(1000))  # the milliseconds and the closing quote
_EPOCH_DAY = datetime(1970, 1, 1, tzinfo=UTC)
_TIME_PIECES = ("_minute({m} // 60000)", "_D2[{m} // 1000 % 60]", "_D3[{m} % 1000]")


@functools.lru_cache(maxsize=16384)  # minutes since 1970: a few thousand in traffic of days
def _minute(minutes: int) -> str:
    """The text of ``_ISO`` up to the seconds ('"YYYY-MM-DDTHH:MM:') for this many minutes since
    1970, remembered: one cached call a read, not a day's and a minute's formatting."""
    t = _EPOCH_DAY + timedelta(minutes=minutes)
    return f'"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:'


def fold(fields: list[FoldField], posts: dict[str, str] | None = None
         ) -> tuple[str, str, dict[str, Any]] | None:
    """``validated`` folded into the raw topic's span reader (``Splicing.read``, issue 19): the
    reader, knowing each value's type as it decodes it, tests only what its inline forms leave
    open (``events.read_tests``) and builds the canonical text from its locals, optional
    fields' parts only when present. Its result items: the content digest, the event time in
    epoch milliseconds (= ``to_epoch_ms()``). Left to ``validated``: the checks across
    fields, unless ``posts`` (``border_fold``'s) are given: then those checks too, and the tests
    and escaping they make needless are left out (``_relations``)."""
    tests = read_tests(fields)
    names = [name for name, _, _, _ in fields]
    if tests is None or not all(name in FIELD_KINDS for name in names) \
            or not {"admin", "post", "nationality", "event_time"} <= set(names):
        return None
    quoted = {} if posts is None else _relations(fields, tests, posts)
    order = sorted(range(len(names)), key=names.__getitem__)
    if fields[order[0]][2]:  # the "{" goes with the first field: one always there
        return None
    # the text's parts, as (literal, text): constants joined before they are repr()'d
    parts: list[tuple[bool, str]] = []
    scope = {**TEST_SCOPE, "_escape": _escape, "_sha256": hashlib.sha256,
             "_minute": _minute, "_D2": _D2, "_D3": _D3}
    for j, i in enumerate(order):
        prefix = ("{" if j == 0 else ",") + _escape(names[i]) + ":" \
            + ("[" if FIELD_KINDS[names[i]] == "list" else "")
        text = (False, _READ_TEXT[FIELD_KINDS[names[i]]].format(v=f"x{i}"))
        if i in quoted:  # a value the relations limit to a few: its escaped text looked up
            text = (False, f"{quoted[i]}[x{i}]")
        elif tests[i].startswith(f"x{i} == "):  # the kind, tested equal to a constant
            text = (True, _escape(ast.literal_eval(tests[i].removeprefix(f"x{i} == "))))
        elif fields[i][1] == "enum":  # an enum's symbols escaped once, not per event
            escaped = "_escaped_" + "_".join(fields[i][3])  # Avro names: [A-Za-z0-9_]
            scope[escaped] = {symbol: _escape(symbol) for symbol in fields[i][3]}
            text = (False, f"{escaped}[x{i}]")
        if fields[i][2]:
            parts.append((False, f"('' if x{i} is None else {prefix!r} + {text[1]})"))
        elif FIELD_KINDS[names[i]] == "time":  # from its milliseconds, in pieces
            parts += [(True, prefix)] + [(False, p.format(m=f"mx{i}")) for p in _TIME_PIECES]
        else:
            parts += [(True, prefix), text]
    parts.append((True, "}"))
    code: list[tuple[bool, str]] = []
    for literal, piece in parts:
        if literal and code and code[-1][0]:
            code[-1] = (True, code[-1][1] + piece)
        else:
            code.append((literal, piece))
    joined = ", ".join(repr(piece) if literal else piece for literal, piece in code)
    digest = f"_sha256(''.join(({joined})).encode(_ENC)).hexdigest()[:16]"  # the reader's codec
    result = f"{digest}, mx{names.index('event_time')}"
    if posts is not None:
        scope.update(_posts=posts, _ALPHA2=_ALPHA2, _Q2=_Q2, _QPOST={p: _escape(p) for p in posts})
    return " and ".join(test for test in tests if test) or "True", result, scope


_Q2 = {code: _escape(code) for code in _ALPHA2}  # a code's text in the digest


def _relations(fields: list[FoldField], tests: list[str], posts: dict[str, str]) -> dict[int, str]:
    """``validated``'s checks across fields appended to ``tests``: the post's administration is
    the event's, the nationality a code. Those make the administration and nationality codes
    (``posts`` only keeps those) and the post one of ``posts``: their own test (not blank) is
    left out, where it is that test, and their text is looked up (the returned global, by
    field index) rather than escaped per event."""
    admin, post, nation = (next(i for i, f in enumerate(fields) if f[0] == name)
                           for name in ("admin", "post", "nationality"))
    tests.append(f"_posts.get(x{post}) == x{admin} and x{nation} in _ALPHA2")
    quoted = {}
    for i, table, implied in ((admin, "_Q2", True), (nation, "_Q2", True),
                              (post, "_QPOST", all(p and not p.isspace() for p in posts))):
        if implied and tests[i] == f"x{i} and not x{i}.isspace()":
            tests[i], quoted[i] = "", table
    return quoted


_border_fold: tuple[BorderConfig | None, Fold | None] = (None, None)


def border_fold(border: BorderConfig) -> Fold:
    """``fold`` with ``validated``'s checks across fields for this border folded in too (the
    post's administration is the event's, the nationality a code): a read giving its digest
    then needs no ``validated`` at all, one giving None still takes it (the same event, digest
    or refusal: tests/unit/test_read_fold.py). The same function for the same border object,
    so the codec's readers generated for it are kept (``Splicing.read`` keys them by fold)."""
    global _border_fold
    if _border_fold[0] is border and _border_fold[1] is not None:
        return _border_fold[1]
    posts = {p: a for c in border.crossings for a, p in c.sides.items() if a in _ALPHA2}

    def folded(fields: list[FoldField]) -> tuple[str, str, dict[str, Any]] | None:
        return fold(fields, posts)

    _border_fold = (border, folded)
    return folded


def _slow_digest(event: dict[str, Any]) -> str:
    canonical = _CANONICAL.encode(to_json_dict(event))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def physical_signature(event: dict[str, Any]) -> str:
    # The post implies the administration, and the state is already per normalised plate.
    if event["kind"] != "crossing":
        return ""
    return f"{event['post']}|{event['direction']}"


def classify(state: VehicleState, event: dict[str, Any], digest: str,
             duplicate_window_ms: int, t: int | None = None,
             sig: str | None = None) -> tuple[Verdict, str | None]:
    """The verdict, and for PHYSICAL the id of the crossing already forwarded. ``t``: the
    event time in epoch ms, ``sig`` its ``physical_signature``, when the caller has them."""
    known = state.seen.get(event["event_id"])
    if known is not None:
        # A conflicting version already alerted on, re-sent (a terminal's outbox is
        # at-least-once), is an exact duplicate too.
        return (Verdict.EXACT if known.knows(digest) else Verdict.CONFLICTING), None
    if sig is None:
        sig = physical_signature(event)
    if sig:
        if t is None:
            t = to_epoch_ms(event["event_time"])
        for other_id, seen in state.seen.items():
            if seen.sig == sig and abs(seen.t - t) <= duplicate_window_ms:
                return Verdict.PHYSICAL, other_id
    return Verdict.NEW, None


def admit(state: VehicleState, event: dict[str, Any], digest: str, duplicate_window_ms: int,
          now: int, t: int) -> Verdict:
    """``classify``, then ``remember`` what it admits, in one call (the processor's, once per
    event: three calls with ``physical_signature`` before). NEW is remembered as an anchor,
    PHYSICAL not as one; EXACT and CONFLICTING are not recorded (the caller records an
    alerted conflict: ``remember_conflict``). ``t``: the event time, ``now`` the wall clock
    remembered, both in epoch ms. The same verdicts and state as those two (tests/unit/test_dedup.py)."""
    seen = state.seen
    event_id = event["event_id"]
    known = seen.get(event_id)
    if known is not None:
        return _EXACT if known.knows(digest) else _CONFLICTING
    # physical_signature's, inline
    sig = f"{event['post']}|{event['direction']}" if event["kind"] == "crossing" else ""
    physical = False
    if sig:
        for other in seen.values():
            if other.sig == sig and abs(other.t - t) <= duplicate_window_ms:
                physical = True
                break
    # Seen(digest, now, t, sig) without its generated __init__ (one per event): its slots set
    # here, every one (tests/unit/test_dedup.py compares the state with remember's)
    new = seen[event_id] = _new(Seen)
    new.digest = digest  # one store a line: four at once build and unpack a tuple
    new.seen_at = now
    new.t = t
    new.conflicts = None
    new.sig = "" if physical else sig
    return _PHYSICAL if physical else _NEW


def remember_conflict(state: VehicleState, event: dict[str, Any], digest: str) -> None:
    """Record a CONFLICTING version that was alerted on: its re-send is then EXACT."""
    state.seen[event["event_id"]].conflicted(digest)


def remember(state: VehicleState, event: dict[str, Any], digest: str, now: int,
             anchor: bool = True, t: int | None = None, sig: str | None = None) -> None:
    """Record an accepted id; ``anchor=False`` for a physical duplicate, which must not itself
    start a new 10-minute window (the forwarded crossing is the anchor). ``sig``: the event's
    ``physical_signature`` when the caller has it."""
    if not anchor:
        sig = ""
    elif sig is None:
        sig = physical_signature(event)
    state.seen[event["event_id"]] = Seen(digest, now, to_epoch_ms(event["event_time"]) if t is None
                                         else t, sig)
