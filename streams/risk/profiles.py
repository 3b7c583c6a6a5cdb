"""Risk profiles and the two-signature approval rule.

A profile version applies only when **every party** (both administrations of the crossings it
covers) has signed exactly its canonical bytes with a trusted, valid key, it is inside its
validity period, and no party has retired it. Anything else — one signature, a signature over
other bytes (tampering), an unknown or revoked key, a malformed document — leaves it without
effect, and ``status`` says why. Either party may retire a profile alone: applying it needs the
consent of both, so withdrawing consent needs only one.

Records on the compacted ``risk-profiles`` topic: key ``<id>@<version>`` (compaction keeps every
version), value JSON ``{"profile": {...}, "approvals": [{kid, sig}], "retirements": [{kid, sig}]}``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bordersync.events import InvalidEvent, parse_time
from bordersync.security.signing import Signer, TrustStore
from streams.risk import approval
from streams.risk.rules import RuleError, check_rule

CHANNELS = ("GREEN", "STANDARD", "YELLOW", "RED")  # in order of severity
PROFILE, RETIRE = "risk-profile", "risk-retire"
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_ADMIN = re.compile(r"^[A-Z]{2}$")
_FIELDS = {"id", "version", "parties", "owner", "crossings", "rule", "channel", "weight",
           "valid_from", "valid_until", "description"}


class ProfileError(ValueError):
    """A profile document is unusable; the message names the profile and the field."""


@dataclass(frozen=True)
class Profile:
    id: str
    version: int
    parties: tuple[str, ...]
    owner: str
    crossings: tuple[str, ...]  # empty: every crossing between the parties
    rule: Mapping[str, Any]
    channel: str
    weight: int
    valid_from: float
    valid_until: float
    description: str
    doc: Mapping[str, Any] = field(repr=False, compare=False)  # what the parties signed

    @property
    def key(self) -> str:
        return f"{self.id}@{self.version}"

    def applies_at(self, crossing: str, sides: frozenset[str]) -> bool:
        return set(self.parties) == sides and (not self.crossings or crossing in self.crossings)


def parse_profile(doc: Any) -> Profile:
    """A validated profile, or ``ProfileError`` naming the profile and the field."""
    if not isinstance(doc, Mapping):
        raise ProfileError("profile: expected a JSON object")
    name = f"profile {doc.get('id')!r} v{doc.get('version')}"

    def bad(msg: str) -> ProfileError:
        return ProfileError(f"{name}: {msg}")

    unknown = sorted(set(doc) - _FIELDS)
    if unknown:
        raise bad(f"{unknown[0]}: unknown field")
    if not isinstance(doc.get("id"), str) or not _ID.match(doc["id"]):
        raise bad(f"id: lower-case letters, digits, '.', '_', '-' (pattern {_ID.pattern})")
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise bad("version: an integer >= 1")
    parties = doc.get("parties")
    if (not isinstance(parties, list) or len(parties) != 2 or len(set(parties)) != 2
            or not all(isinstance(p, str) and _ADMIN.match(p) for p in parties)):
        raise bad("parties: the two administrations, e.g. [\"MK\", \"AL\"]")
    if doc.get("owner") not in parties:
        raise bad("owner: one of the parties")
    crossings = doc.get("crossings", [])
    if not isinstance(crossings, list) or not all(isinstance(c, str) for c in crossings):
        raise bad("crossings: a list of crossing ids")
    try:
        check_rule(doc.get("rule"))
    except RuleError as exc:
        raise bad(str(exc)) from None
    if doc.get("channel") not in ("GREEN", "YELLOW", "RED"):
        raise bad("channel: GREEN, YELLOW or RED")
    weight = doc.get("weight")
    if not isinstance(weight, int) or isinstance(weight, bool) or not 0 <= weight <= 100:
        raise bad("weight: an integer in [0, 100]")
    times = []
    for key in ("valid_from", "valid_until"):
        try:
            times.append(parse_time(doc.get(key)).timestamp())
        except InvalidEvent as exc:
            raise bad(f"{key}: {exc}") from None
    if times[0] >= times[1]:
        raise bad("valid_until must be after valid_from")
    return Profile(doc["id"], version, tuple(sorted(parties)), doc["owner"], tuple(crossings),
                   doc["rule"], doc["channel"], weight, times[0], times[1],
                   str(doc.get("description", "")), doc)


def propose(doc: Mapping[str, Any], signer: Signer) -> dict[str, Any]:
    """A new profile record carrying the proposer's approval."""
    profile = parse_profile(doc)
    if signer.admin not in profile.parties:
        raise ProfileError(f"profile {profile.key}: {signer.admin} is not a party")
    return {"profile": dict(doc), "approvals": [approval.approve(doc, PROFILE, profile.key, signer)],
            "retirements": []}


def countersign(record: Mapping[str, Any], signer: Signer, retire: bool = False) -> dict[str, Any]:
    """``record`` with ``signer``'s approval (or retirement) added; a party signs only once."""
    profile = parse_profile(record.get("profile"))
    if signer.admin not in profile.parties:
        raise ProfileError(f"profile {profile.key}: {signer.admin} is not a party")
    slot, purpose = ("retirements", RETIRE) if retire else ("approvals", PROFILE)
    kept = [a for a in record.get(slot, []) if approval.approver(a) != signer.admin]
    signed = approval.approve(profile.doc, purpose, profile.key, signer)
    return {**record, slot: [*kept, signed]}


@dataclass(frozen=True)
class Status:
    key: str
    state: str  # active, pending, superseded, expired, not-yet-valid, retired, invalid
    detail: str
    profile: Profile | None = None


def _signed_by(profile: Profile, items: Iterable[Mapping[str, Any]], purpose: str,
               trust: TrustStore, at: datetime, problems: list[str]) -> set[str]:
    admins = set()
    for item in items:
        reason = approval.check(profile.doc, purpose, profile.key, item, trust, at)
        if reason is None:
            admins.add(str(approval.approver(item)))
        else:
            problems.append(f"signature {item.get('kid')!r} rejected: {reason}")
    return admins & set(profile.parties)


def _items(rec: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    items = rec.get(name, [])
    if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
        raise ProfileError(f"{name}: a list of {{kid, sig}} objects")
    return items


class ProfileBook:
    """Every profile record seen on the topic (latest value per key), and what is in force."""

    def __init__(self) -> None:
        self.records: dict[str, Any] = {}
        self.generation = 0  # bumps on every change: callers cache ``evaluate`` per generation

    def apply(self, key: str, value: bytes | None) -> None:
        """One record of the compacted topic; a tombstone forgets the key. Never raises: a bad
        record is kept and reported by ``evaluate`` as invalid."""
        if value is None:
            self.records.pop(key, None)
        else:
            try:
                self.records[key] = json.loads(value)
            except ValueError as exc:
                self.records[key] = {"error": f"not JSON: {exc}"}
        self.generation += 1

    def evaluate(self, trust: TrustStore, at: datetime) -> list[Status]:
        """The state of every key at ``at``: for each profile id the highest fully approved
        version is the candidate; it is active unless retired or outside its validity."""
        out: list[Status] = []
        approved: dict[str, list[tuple[Profile, set[str]]]] = {}
        for key in sorted(self.records):
            rec = self.records[key]
            try:
                if not isinstance(rec, Mapping) or "error" in rec:
                    raise ProfileError(str(rec.get("error", "not an object")) if isinstance(
                        rec, Mapping) else "not an object")
                profile = parse_profile(rec.get("profile"))
                if profile.key != key:
                    raise ProfileError(f"record key {key!r} is not {profile.key!r}")
                problems: list[str] = []
                signed = _signed_by(profile, _items(rec, "approvals"), PROFILE, trust, at,
                                    problems)
                retired = _signed_by(profile, _items(rec, "retirements"), RETIRE, trust, at,
                                     problems)
            except (ProfileError, TypeError, ValueError, AttributeError) as exc:
                # Anyone who can write the topic can write garbage: it is reported, never fatal.
                out.append(Status(key, "invalid", str(exc) or type(exc).__name__))
                continue
            missing = sorted(set(profile.parties) - signed)
            if missing:
                detail = f"signed by {', '.join(sorted(signed)) or 'nobody'}; awaiting " \
                         f"{', '.join(missing)}"
                out.append(Status(key, "pending", "; ".join([detail, *problems]), profile))
                continue
            approved.setdefault(profile.id, []).append((profile, retired))
        t = at.timestamp()
        for versions in approved.values():
            versions.sort(key=lambda pv: pv[0].version, reverse=True)
            (top, retired), older = versions[0], versions[1:]
            for profile, _ in older:
                out.append(Status(profile.key, "superseded", f"by v{top.version}", profile))
            if retired:
                out.append(Status(top.key, "retired", f"by {', '.join(sorted(retired))}", top))
            elif t < top.valid_from:
                out.append(Status(top.key, "not-yet-valid", "valid_from in the future", top))
            elif t >= top.valid_until:
                out.append(Status(top.key, "expired", "valid_until passed", top))
            else:
                out.append(Status(top.key, "active", f"signed by {', '.join(top.parties)}", top))
        return sorted(out, key=lambda s: s.key)

    def active(self, trust: TrustStore, at: datetime) -> list[Profile]:
        return [s.profile for s in self.evaluate(trust, at)
                if s.state == "active" and s.profile is not None]
