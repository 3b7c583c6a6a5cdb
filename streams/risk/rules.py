"""Rule kinds of risk profiles, one evaluator per kind, registered in one table (``RULES``).

A rule looks at one crossing event, the vehicle's recent history and the watchlists, and returns
a human-readable reason when it hits (shown to officers of both sides) or None. Parameters are
checked when a profile is loaded (``check``), so a profile with a typo never reaches evaluation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

VEHICLE_TYPES = ("TRUCK", "CAR", "BUS", "VAN", "OTHER")
HISTORY_KINDS = {"DISCREPANCY": "D", "HOLD": "H"}
IDENT_FIELDS = ("plate", "trailer", "container")
DAY_MS = 86_400_000  # history times are epoch ms (streams.logic.model)


class RuleError(ValueError):
    """A rule's parameters are unusable; the message names the parameter."""


@dataclass(frozen=True)
class Subject:
    """What a rule may look at for one crossing event."""

    event: Mapping[str, Any]
    crossing: str
    t: int  # event time, epoch ms
    history: Sequence[Sequence[Any]]  # [t (ms), code, ...] entries of VehicleState.risk
    # (administration, field) of every watchlist entry the vehicle's identifiers match
    watch_hits: Sequence[tuple[str, str]] = field(default_factory=tuple)


Evaluator = Callable[[Subject, Mapping[str, Any]], str | None]
Checker = Callable[[Mapping[str, Any]], None]


@dataclass(frozen=True)
class RuleKind:
    name: str
    doc: str
    check: Checker
    evaluate: Evaluator


def _types(params: Mapping[str, Any]) -> None:
    types = params.get("vehicle_types", list(VEHICLE_TYPES))
    if not isinstance(types, list) or not types or any(t not in VEHICLE_TYPES for t in types):
        raise RuleError(f"vehicle_types: a non-empty list of {', '.join(VEHICLE_TYPES)}")


def _known(params: Mapping[str, Any], *names: str) -> None:
    unknown = sorted(set(params) - set(names))
    if unknown:
        raise RuleError(f"{unknown[0]}: unknown parameter (known: {', '.join(names)})")


# --- cargo_unsealed: vehicle type + declared goods + no seal -------------------------------

def _check_unsealed(params: Mapping[str, Any]) -> None:
    _known(params, "vehicle_types", "declared")
    _types(params)
    if not isinstance(params.get("declared", True), bool):
        raise RuleError("declared: true or false")


def _unsealed(s: Subject, params: Mapping[str, Any]) -> str | None:
    e = s.event
    if e["vehicle_type"] not in params.get("vehicle_types", VEHICLE_TYPES) or e.get("seals"):
        return None
    ref = e.get("declaration_ref")
    if params.get("declared", True) and not ref:
        return None
    goods = f" with declaration {ref}" if ref else ""
    return f"{e['vehicle_type'].lower()}{goods} travels without a seal"


# --- watchlist: plate, trailer or container on a partner's watchlist ------------------------

def _check_watchlist(params: Mapping[str, Any]) -> None:
    _known(params, "fields", "admins")
    fields = params.get("fields", list(IDENT_FIELDS))
    if not isinstance(fields, list) or not fields or any(f not in IDENT_FIELDS for f in fields):
        raise RuleError(f"fields: a non-empty list of {', '.join(IDENT_FIELDS)}")
    admins = params.get("admins", [])
    if not isinstance(admins, list) or any(not isinstance(a, str) for a in admins):
        raise RuleError("admins: a list of administration codes")


def _watchlist(s: Subject, params: Mapping[str, Any]) -> str | None:
    fields = params.get("fields", IDENT_FIELDS)
    admins = params.get("admins") or None
    found = sorted({(a, f) for a, f in s.watch_hits
                    if f in fields and (admins is None or a in admins)})
    if not found:
        return None
    # Which list and which identifier, never the entry itself (docs/risk.md).
    return "; ".join(f"{f} on the {a} watchlist" for a, f in found)


# --- history: discrepancies or holds for this vehicle in the last N days --------------------

def _check_history(params: Mapping[str, Any]) -> None:
    _known(params, "days", "kinds", "min_count")
    days = params.get("days", 30)
    if not isinstance(days, (int, float)) or isinstance(days, bool) or not 0 < days <= 366:
        raise RuleError("days: a number of days in (0, 366]")
    kinds = params.get("kinds", list(HISTORY_KINDS))
    if not isinstance(kinds, list) or not kinds or any(k not in HISTORY_KINDS for k in kinds):
        raise RuleError(f"kinds: a non-empty list of {', '.join(HISTORY_KINDS)}")
    count = params.get("min_count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise RuleError("min_count: an integer >= 1")


def _history(s: Subject, params: Mapping[str, Any]) -> str | None:
    since = s.t - params.get("days", 30) * DAY_MS
    codes = {HISTORY_KINDS[k]: k for k in params.get("kinds", HISTORY_KINDS)}
    found = [codes[h[1]] for h in s.history if h[1] in codes and since <= h[0] <= s.t]
    if len(found) < int(params.get("min_count", 1)):
        return None
    counts = ", ".join(f"{found.count(k)} {k.lower()}" for k in sorted(set(found)))
    return f"{counts} in the last {params.get('days', 30)} days"


# --- mass_band: gross mass far from the band declared for the vehicle type ------------------

def _check_mass(params: Mapping[str, Any]) -> None:
    _known(params, "vehicle_types", "min_kg", "max_kg")
    _types(params)
    low, high = params.get("min_kg", 0), params.get("max_kg")
    if not isinstance(low, int) or not isinstance(high, int) or not 0 <= low < high:
        raise RuleError("min_kg, max_kg: integers with 0 <= min_kg < max_kg")


def _mass(s: Subject, params: Mapping[str, Any]) -> str | None:
    e = s.event
    mass = e.get("gross_mass_kg")
    if mass is None or e["vehicle_type"] not in params.get("vehicle_types", VEHICLE_TYPES):
        return None
    low, high = int(params.get("min_kg", 0)), int(params["max_kg"])
    if low <= mass <= high:
        return None
    return f"gross mass {mass:,} kg outside the band {low:,}-{high:,} kg"


RULES: dict[str, RuleKind] = {r.name: r for r in (
    RuleKind("cargo_unsealed", "vehicle type + declared goods + no seal", _check_unsealed,
             _unsealed),
    RuleKind("watchlist", "plate, trailer or container on a watchlist", _check_watchlist,
             _watchlist),
    RuleKind("history", "discrepancies or holds in the last N days", _check_history, _history),
    RuleKind("mass_band", "gross mass outside the band for the vehicle type", _check_mass, _mass),
)}


def check_rule(rule: Any) -> None:
    """Raise ``RuleError`` naming what is wrong with a profile's ``rule`` object."""
    if not isinstance(rule, Mapping) or not isinstance(rule.get("kind"), str):
        raise RuleError("rule: an object with a 'kind'")
    kind = RULES.get(rule["kind"])
    if kind is None:
        raise RuleError(f"rule.kind: unknown {rule['kind']!r} (known: {', '.join(RULES)})")
    kind.check({k: v for k, v in rule.items() if k != "kind"})


def evaluate(rule: Mapping[str, Any], subject: Subject) -> str | None:
    return RULES[rule["kind"]].evaluate(subject, rule)
