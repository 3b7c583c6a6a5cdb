"""The shapes every rule shares: what the processor hands a rule, what a rule answers, and what
the simulator's ground truth hands a rule's oracle.

Kept apart from the table (``streams.rules``) so rule modules can import these without importing
the table that imports them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple

from bordersync.border import Crossing
from streams.logic.events import CrossingEvent, InspectionEvent
from streams.logic.model import Pending, VehicleState


class Trigger(StrEnum):
    """When the processor asks a rule (docs/streams.md, "Alert rules")."""

    DUPLICATE = "duplicate"  # an event id re-sent with different content (not forwarded)
    INSPECTION = "inspection"  # a forwarded inspection
    CROSSING = "crossing"  # a forwarded crossing, before it is matched
    MATCHED = "matched"  # an EXIT/ENTRY pair was matched
    DEADLINE = "deadline"  # a pending crossing passed window + grace without a partner


class Context(NamedTuple):
    """What the processor knows when a trigger fires; fields not meaningful for it stay None.

    Immutable; a named tuple rather than a frozen dataclass because the processor builds one or
    two per event and a frozen dataclass's ``__init__`` costs a ``object.__setattr__`` a field.

    ``event`` is a typed, frozen value (streams.logic.events), not the validated dict: rules read
    attributes mypy checks and cannot change the record the processor forwards; its time is
    ``event_time_ms``, integer milliseconds since the epoch (UTC). Issue 19: keep it so."""

    # DUPLICATE (the re-sent copy), INSPECTION, CROSSING: the event, typed
    event: CrossingEvent | InspectionEvent | None = None
    crossing: str | None = None  # the joint crossing of ``event``
    state: VehicleState | None = None  # CROSSING: the vehicle's state, the event already in it
    crossing_of_post: Callable[[str], Crossing | None] | None = None  # CROSSING: post -> crossing
    pending: Pending | None = None  # DEADLINE: the crossing past its deadline
    exit_: Pending | None = None  # MATCHED
    entry: Pending | None = None  # MATCHED
    discrepancies: tuple[dict[str, Any], ...] = ()  # MATCHED: what the field rules found


@dataclass(frozen=True)
class Finding:
    """One alert a rule raises: the events behind it and the sentence officers read."""

    event_ids: list[str]
    detail: str


# --- the simulator's ground truth (tooling/simulate/truth.py) ----------------------------------

@dataclass(frozen=True)
class Observed:
    """A forwarded event of the simulation with the crossing and plate its alert would name."""

    event: dict[str, Any]
    crossing: str
    plate: str


@dataclass(frozen=True)
class ObservedPair:
    exit_event: dict[str, Any]
    entry_event: dict[str, Any]
    crossing: str
    plate: str
    fields: list[str]  # discrepancy fields the oracle expects


@dataclass(frozen=True)
class OracleView:
    """Everything a correct processor sees of a simulation, decided the way the contract says
    (first copy of an id wins, earliest-arriving physical duplicate wins, one-to-one pairs)."""

    forwarded: list[Observed]  # every forwarded event, in arrival order
    conflicting: list[Observed]  # every re-sent copy with different content
    pairs: list[ObservedPair]
    unpaired: list[Observed]  # forwarded crossings that never find their partner
    tolerance_pct: float = 0.0


def expected(type_: str, item: Observed | ObservedPair, ids: list[str]) -> dict[str, Any]:
    """One alert of the ground truth (docs/producers.md)."""
    return {"type": type_, "event_ids": ids, "crossing": item.crossing, "plate": item.plate}


@dataclass(frozen=True)
class AlertRule:
    """An alert type: its name is the ``AlertType`` enum symbol of the alert schema."""

    type: str
    trigger: Trigger
    summary: str  # one line, for the docs' alert tables
    check: Callable[[Context], Finding | None]
    expect: Callable[[OracleView], list[dict[str, Any]]]  # the simulator's ground truth
    # MATCHED: ``check`` finds nothing in a pair without discrepancies, so the processor does
    # not ask it for one (streams.rules.ON_CLEAN_PAIRS)
    needs_discrepancies: bool = False
    # CROSSING: ``check`` finds nothing when the vehicle's state remembers no event but this one,
    # so the processor does not ask it about a vehicle's first (streams.rules.ON_FIRST_EVENT)
    needs_earlier_event: bool = False


@dataclass(frozen=True)
class FieldRule:
    """A discrepancy field of ``matched`` (compared on every matched pair, in table order)."""

    field: str
    summary: str
    # (exit value, entry value) as the matched record shows them when the sides disagree; None
    # when they agree, always when the sides' ``Pending.<field>`` values are equal (the table
    # does not ask then: streams.rules.find_discrepancies) given a non-negative tolerance
    compare: Callable[[Pending, Pending, float], tuple[object, object] | None]
    differs: Callable[[dict[str, Any], dict[str, Any], float], bool]  # the ground truth's view


def set_text(values: list[str] | None) -> str | None:
    return ",".join(sorted(set(values))) if values else None
