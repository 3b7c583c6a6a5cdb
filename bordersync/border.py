"""Joint crossings and partner-agency agreements, loaded from a JSON file (configuration, not code)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

SHARED_STREAMS = ("crossings", "inspections", "matched", "alerts", "risk")


class Crossing(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    sides: dict[str, str] = Field(description="administration (ISO alpha-2) -> post code")
    window_minutes: int = Field(gt=0)

    @model_validator(mode="after")
    def _two_sides(self) -> Crossing:
        if len(self.sides) != 2:
            raise ValueError(f"crossing {self.id}: needs exactly two sides, got {len(self.sides)}")
        return self

    def other_admin(self, admin: str) -> str:
        return next(a for a in self.sides if a != admin)


class Agency(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    admin: str
    description: str = ""
    streams: dict[str, list[str]]
    # Empty means every crossing where ``admin`` is one of the two sides.
    crossings: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _known_streams(self) -> Agency:
        unknown = set(self.streams) - set(SHARED_STREAMS)
        if unknown:
            raise ValueError(f"agency {self.name}: unknown streams {sorted(unknown)}")
        return self


class BorderConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    crossings: list[Crossing]
    agencies: list[Agency]
    admins: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> BorderConfig:
        posts = [p for c in self.crossings for p in c.sides.values()]
        if len(posts) != len(set(posts)):
            raise ValueError("a post code belongs to more than one crossing")
        ids = [c.id for c in self.crossings]
        for agency in self.agencies:
            for cid in agency.crossings:
                if cid not in ids:
                    raise ValueError(f"agency {agency.name}: unknown crossing {cid}")
        return self

    def crossing_of_post(self, post: str) -> Crossing | None:
        return self._post_index().get(post)

    def _post_index(self) -> dict[str, Crossing]:
        return {p: c for c in self.crossings for p in c.sides.values()}

    def crossing(self, crossing_id: str) -> Crossing:
        for c in self.crossings:
            if c.id == crossing_id:
                return c
        raise KeyError(crossing_id)

    def agency(self, name: str) -> Agency:
        for a in self.agencies:
            if a.name == name:
                return a
        known = ", ".join(a.name for a in self.agencies)
        raise KeyError(f"unknown agency {name!r}; known: {known}")

    def agency_crossings(self, agency: Agency) -> set[str]:
        if agency.crossings:
            return set(agency.crossings)
        return {c.id for c in self.crossings if agency.admin in c.sides}


@cache
def load_border_config(path: Path | None = None) -> BorderConfig:
    """The shipped configuration, or ``path`` when operators provide their own."""
    if path is None:
        text = resources.files("bordersync").joinpath("data/border.json").read_text("utf-8")
    else:
        text = path.read_text("utf-8")
    config = BorderConfig.model_validate(json.loads(text))
    check_agreements(config, shareable_fields())
    return config


def shareable_fields() -> dict[str, frozenset[str]]:
    """Per shared stream, the fields its projection in the newest ``share`` schema can carry."""
    from bordersync.wire.codec import SHARE_BRANCHES
    from bordersync.wire.schemas import catalogue

    branches = {}
    for member in catalogue().latest("share").schema["fields"]:
        if member["name"] != "record":
            continue
        for branch in member["type"]:
            if isinstance(branch, dict) and branch.get("type") == "record":
                branches[f"{branch.get('namespace', 'bordersync.share')}.{branch['name']}"] = \
                    frozenset(f["name"] for f in branch["fields"])
    return {stream: branches.get(name, frozenset()) for stream, name in SHARE_BRANCHES.items()}


def check_agreements(config: BorderConfig, shareable: dict[str, frozenset[str]]) -> None:
    """An agreement naming a field the stream cannot carry is an error at load time, never a field
    silently dropped from every record: the message names the agency, the stream and the field."""
    problems = []
    for agency in config.agencies:
        for stream, fields in agency.streams.items():
            allowed = shareable.get(stream, frozenset())
            for name in fields:
                if name not in allowed:
                    problems.append(f"agency {agency.name}: stream {stream}: field {name!r} is not "
                                    f"in the shared {stream} schema (known: {', '.join(sorted(allowed))})")
    if problems:
        raise ValueError("border configuration: " + "; ".join(problems))
