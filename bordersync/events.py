"""Input events as the contract defines them: validation with reasons that name the field.

Pure logic: used by ``publish`` before anything reaches the outbox and by the streams, which
re-validate every raw record because not every producer is ours.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from bordersync.border import BorderConfig

KINDS = ("crossing", "inspection")
DIRECTIONS = ("EXIT", "ENTRY")
VEHICLE_TYPES = ("TRUCK", "CAR", "BUS", "VAN", "OTHER")
INSPECTION_TYPES = ("DOCUMENTS", "XRAY", "PHYSICAL", "WEIGHBRIDGE", "PHYTO", "VET")
RESULTS = ("CLEARED", "HOLD", "SEIZED", "REFERRED")

COMMON_REQUIRED = ("event_id", "kind", "admin", "post", "event_time", "plate", "nationality",
                   "terminal_id")
CROSSING_REQUIRED = ("direction", "vehicle_type")
CROSSING_OPTIONAL = ("trailer_plate", "container_ids", "seals", "gross_mass_kg",
                     "declaration_ref", "passengers", "priority")
INSPECTION_REQUIRED = ("inspection_type", "result")
INSPECTION_OPTIONAL = ("findings", "seals_applied", "measured_mass_kg")

_STR_FIELDS = {"event_id", "admin", "post", "plate", "nationality", "terminal_id", "trailer_plate",
               "declaration_ref", "findings"}
_INT_FIELDS = {"gross_mass_kg", "passengers", "measured_mass_kg"}
_LIST_FIELDS = {"container_ids", "seals", "seals_applied"}
_ENUMS: dict[str, tuple[str, ...]] = {
    "kind": KINDS, "direction": DIRECTIONS, "vehicle_type": VEHICLE_TYPES,
    "inspection_type": INSPECTION_TYPES, "result": RESULTS,
    "priority": ("NONE", "GREEN_LANE", "AEO"),
}
_ALPHA2 = re.compile(r"^[A-Z]{2}$")
MAX_STR = 256
MAX_LIST = 64
# Encoded (UTF-8) size of one list field: 64 entries of 256 ASCII characters. With the limits
# above this keeps every valid event far below the broker's 1 MB record limit (an oversized event
# once blocked a terminal's outbox: docs/producers.md).
MAX_LIST_BYTES = 16 * 1024


class InvalidEvent(ValueError):
    """Why an input record was rejected; ``field`` is None when the whole record is wrong."""

    def __init__(self, reason: str, field: str | None = None) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}" if field else reason)


def parse_time(value: object, field: str = "event_time") -> datetime:
    if isinstance(value, datetime) and value.utcoffset() is not None:
        # Re-validating a decoded record: the Avro codec returns aware UTC datetimes.
        return value.astimezone(UTC)
    if isinstance(value, datetime):
        raise InvalidEvent(f"naive time without UTC offset: {value.isoformat()!r}", field)
    if not isinstance(value, str):
        raise InvalidEvent(f"expected an ISO 8601 string, got {type(value).__name__}", field)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidEvent(f"not an ISO 8601 time: {value!r}", field) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise InvalidEvent(f"time without UTC offset: {value!r}", field)
    return parsed.astimezone(UTC)


def format_time(value: datetime) -> str:
    """UTC, millisecond precision, ``Z`` suffix: the one textual form bordersync emits."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _check_utf8(name: str, value: str) -> None:
    # JSON can carry lone surrogates ("\ud800"); Avro strings are UTF-8, which cannot.
    if not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError:
            raise InvalidEvent("not valid Unicode text (lone surrogate)", name) from None


_STR, _INT, _LIST, _ENUM = range(4)
_CHECK = {**dict.fromkeys(_STR_FIELDS, _STR), **dict.fromkeys(_INT_FIELDS, _INT),
          **dict.fromkeys(_LIST_FIELDS, _LIST), **dict.fromkeys(_ENUMS, _ENUM)}
# The type of each field of a validated event (str, int, list of str, or a UTC datetime).
FIELD_KINDS = {**dict.fromkeys(_STR_FIELDS | _ENUMS.keys(), "str"),
               **dict.fromkeys(_INT_FIELDS, "int"), **dict.fromkeys(_LIST_FIELDS, "list"),
               "event_time": "time"}


def _check_type(name: str, value: object) -> None:
    check = _CHECK.get(name)
    if check == _STR:
        if not isinstance(value, str):
            raise InvalidEvent(f"expected a string, got {type(value).__name__}", name)
        if not value.strip():
            raise InvalidEvent("must not be empty", name)
        if len(value) > MAX_STR:
            raise InvalidEvent(f"longer than {MAX_STR} characters", name)
        _check_utf8(name, value)
    elif check == _INT:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidEvent(f"expected an integer, got {type(value).__name__}", name)
        if value < 0 or value > 2**31 - 1:
            raise InvalidEvent(f"out of range: {value}", name)
    elif check == _LIST:
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise InvalidEvent("expected a list of non-empty strings", name)
        if len(value) > MAX_LIST:
            raise InvalidEvent(f"more than {MAX_LIST} entries", name)
        for item in value:
            _check_utf8(name, item)
            if len(item) > MAX_STR:
                raise InvalidEvent(f"an entry is longer than {MAX_STR} characters", name)
        size = sum(len(item.encode()) for item in value)
        if size > MAX_LIST_BYTES:
            raise InvalidEvent(f"{size} bytes encoded, more than {MAX_LIST_BYTES}", name)
    elif check == _ENUM:
        if value not in _ENUMS[name]:
            allowed = ", ".join(_ENUMS[name])
            raise InvalidEvent(f"unknown code {value!r} (allowed: {allowed})", name)


_SHAPES = {
    kind: (required, frozenset(optional), frozenset(required) | frozenset(optional))
    for kind, required, optional in (
        ("crossing", COMMON_REQUIRED + CROSSING_REQUIRED, CROSSING_OPTIONAL),
        ("inspection", COMMON_REQUIRED + INSPECTION_REQUIRED, INSPECTION_OPTIONAL),
    )
}
_ALPHA2_SEEN: set[str] = set()  # codes that matched: at most 26 * 26 (and a trailing newline)
_posts: tuple[BorderConfig | None, dict[str, str]] = (None, {})


def _post_admins(border: BorderConfig) -> dict[str, str]:
    """Post -> its administration, rebuilt only when another border configuration is passed."""
    global _posts
    if _posts[0] is not border:
        _posts = (border, {p: a for c in border.crossings for a, p in c.sides.items()})
    return _posts[1]


def _alpha2(name: str, value: str) -> None:
    if value not in _ALPHA2_SEEN:
        if not _ALPHA2.match(value):
            raise InvalidEvent(f"expected an ISO 3166-1 alpha-2 code, got {value!r}", name)
        _ALPHA2_SEEN.add(value)


_INT_MAX = 2**31 - 1


def _plain_list(value: object) -> bool:
    """A valid list of short ASCII strings (seals, containers): ASCII, so its encoded size is its
    length. Anything else is left to ``_check_type``."""
    if type(value) is not list or len(value) > MAX_LIST:
        return False
    size = 0
    for v in value:  # a loop, not all() over a generator: lists here hold one or two entries
        if type(v) is not str or not 0 < len(v) <= MAX_STR or not v.isascii():
            return False
        size += len(v)
    return size <= MAX_LIST_BYTES


_INLINE = {  # per check, an expression true for the common valid values of ``{v}`` (as below)
    _STR: "type({v}) is str and {v}.isascii() and 0 < len({v}) <= MAX_STR and not {v}.isspace()",
    _INT: "type({v}) is int and 0 <= {v} <= _INT_MAX",
    _LIST: "_plain_list({v})",
}
# The globals the expressions of ``field_tests`` use.
TEST_SCOPE: dict[str, Any] = {"datetime": datetime, "UTC": UTC, "MAX_STR": MAX_STR,
                              "_INT_MAX": _INT_MAX, "_plain_list": _plain_list}
_PLANS: dict[tuple[str, ...], Any] = {}  # field order -> its inline check (None: none)
_PLANS_KEPT = 4096


def field_tests(names: tuple[str, ...]) -> list[str] | None:
    """Per field of a record with these field names, in order, a Python expression over
    ``v<index>`` (globals: ``TEST_SCOPE``) true only for a value ``validate`` keeps as it is;
    all true: ``validate`` returns the record's copy unless ``check_relations`` refuses it.
    None: such a record never passes whole (a field unknown, missing or given twice). Field
    names come from records: they never appear in the expressions."""
    kind = "crossing" if "direction" in names else "inspection"
    required, _optional, known = _SHAPES[kind]
    if not (set(names) <= known and set(required) <= set(names)) or len(set(names)) != len(names):
        return None
    tests = []
    for i, name in enumerate(names):
        if name == "event_time":
            test = "type({v}) is datetime and {v}.tzinfo is UTC"
        elif name == "kind":
            test = f"{{v}} == {kind!r}"
        elif _CHECK[name] == _ENUM:
            test = f"type({{v}}) is str and {{v}} in {_ENUMS[name]!r}"
        else:
            test = _INLINE[_CHECK[name]]
        tests.append(test.format(v=f"v{i}"))
    return tests


def read_tests(fields: list[tuple[str, str | None, bool, tuple[str, ...]]]) -> list[str] | None:
    """``field_tests`` for a record as the raw topic's span reader reads it (``avro_splice``'s
    ``FoldField``: name, inline form, optional, enum symbols): per field an expression over
    ``x<index>`` (None when an optional field is null; globals: ``TEST_SCOPE``), "" when the
    inline form alone makes the value one ``validate`` keeps: a string of under 64 UTF-8 bytes
    (within MAX_STR, no lone surrogate), a list of 1 to 63 of them (within MAX_LIST and
    MAX_LIST_BYTES), an int, a UTC datetime, an enum's symbol. None: no such record passes
    whole (a field missing, unknown, optional when required, or read otherwise)."""
    names = tuple(name for name, _, _, _ in fields)
    kind = "crossing" if "direction" in names else "inspection"
    required, _optional, known = _SHAPES[kind]
    always = {name for name, _, optional, _ in fields if not optional}
    if not (set(names) <= known and set(required) <= always) or len(set(names)) != len(names):
        return None
    tests = []
    for i, (name, read, optional, symbols) in enumerate(fields):
        v, check = f"x{i}", _CHECK.get(name)
        if name == "event_time" and read == "timestamp":
            test = ""
        elif name == "kind" and read in ("string", "enum"):
            test = f"{v} == {kind!r}"
        elif check == _ENUM and read == "enum" and set(symbols) <= set(_ENUMS[name]):
            test = ""
        elif check == _ENUM and read in ("string", "enum"):
            test = f"{v} in {_ENUMS[name]!r}"
        elif check == _STR and read == "string":
            test = f"{v} and not {v}.isspace()"  # str.strip()'s whitespace is isspace()'s
        elif check == _INT and read in ("int", "long"):
            test = f"0 <= {v}" if read == "int" else f"0 <= {v} <= _INT_MAX"
        elif check == _LIST and read == "strings":
            test = f"all({v})"  # no empty entry
        else:
            return None
        tests.append(f"({v} is None or {test})" if optional and test else test)
    return tests


def _plan(names: tuple[str, ...]) -> Any:
    """One function checking every field of a record with these field names inline, generated
    once per field order (a handful: the codec's), so the common valid event costs one call and
    no loop; True only when ``validate`` would keep every value as it is."""
    tests = field_tests(names)
    if tests is None:
        return None
    lines = ["def plan(o):"]
    for i, (name, test) in enumerate(zip(names, tests, strict=True)):
        lines += [f"    v{i} = o[{name!r}]", f"    if not ({test}): return False"]
    lines.append("    return True")
    scope = dict(TEST_SCOPE)
    exec("\n".join(lines), scope)
    return scope["plan"]


def validate(obj: object, border: BorderConfig) -> dict[str, Any]:
    """The event as a canonical dict (``event_time`` an aware UTC datetime) or ``InvalidEvent``."""
    if type(obj) is dict:
        names = tuple(obj)
        plan = _PLANS.get(names, False)
        if plan is False:
            plan = _plan(names)
            if len(_PLANS) < _PLANS_KEPT:
                _PLANS[names] = plan
        if plan is not None and plan(obj):
            # Every value valid as it is: what the loop below returns, less its steps.
            return check_relations(dict(obj), border)
    return _validate_full(obj, border)


def _validate_full(obj: object, border: BorderConfig) -> dict[str, Any]:
    """``validate`` field by field, with the reason of a refusal."""
    if not isinstance(obj, dict):
        raise InvalidEvent(f"expected a JSON object, got {type(obj).__name__}")
    kind = obj.get("kind")
    if kind not in KINDS:
        raise InvalidEvent(f"unknown or missing kind {kind!r} (allowed: crossing, inspection)",
                           "kind")
    required, optional, known = _SHAPES[kind]
    if not obj.keys() <= known:
        raise InvalidEvent(f"unknown field for a {kind} event", sorted(set(obj) - known)[0])
    for name in required:
        if name not in obj or obj[name] is None:
            raise InvalidEvent("required field missing", name)
    out: dict[str, Any] = {}
    for name, value in obj.items():
        if value is None and name in optional:
            continue
        if name == "event_time":
            # Re-validating a decoded record: the Avro codec returns aware UTC datetimes.
            out[name] = value if type(value) is datetime and value.tzinfo is UTC \
                else parse_time(value)
            continue
        check = _CHECK.get(name)
        # Inline verdicts for the common valid cases; anything else gets the full check and its
        # message (the same verdict either way: tests/unit/test_validate_fast_path.py).
        if not ((check == _STR and type(value) is str and value.isascii()
                 and 0 < len(value) <= MAX_STR and not value.isspace())
                or (check == _ENUM and type(value) is str and value in _ENUMS[name])
                or (check == _INT and type(value) is int and 0 <= value <= _INT_MAX)
                or (check == _LIST and _plain_list(value))):
            _check_type(name, value)
        out[name] = value
    return check_relations(out, border)


def check_relations(out: dict[str, Any], border: BorderConfig) -> dict[str, Any]:
    """The checks across fields, after every field's own: codes, and the post belonging to the
    administration. ``out`` back, or ``InvalidEvent``."""
    if out["admin"] not in _ALPHA2_SEEN:
        _alpha2("admin", out["admin"])
    if out["nationality"] not in _ALPHA2_SEEN:
        _alpha2("nationality", out["nationality"])
    admin = _post_admins(border).get(out["post"])
    if admin is None:
        raise InvalidEvent(f"unknown post code {out['post']!r}", "post")
    if admin != out["admin"]:
        raise InvalidEvent(
            f"post {out['post']!r} does not belong to administration {out['admin']!r}", "post"
        )
    return out


def to_json_dict(event: dict[str, Any]) -> dict[str, Any]:
    """The canonical event in its JSON form (times as UTC strings)."""
    return {k: (format_time(v) if isinstance(v, datetime) else v) for k, v in event.items()}
