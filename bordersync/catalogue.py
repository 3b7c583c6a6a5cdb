"""The topic catalogue: every logical stream, its key, partitions and retention.

Topics are never auto-created (the local broker has auto-creation off, and production clusters
should too), so
``bordersync topics create`` creates exactly these.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bordersync.border import BorderConfig
from bordersync.settings import Settings

DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class TopicSpec:
    stream: str
    key: str
    retention_days: int
    doc: str
    compact: bool = False
    single_partition: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    def configs(self) -> dict[str, str]:
        conf = {
            "cleanup.policy": "compact" if self.compact else "delete",
            "retention.ms": str(self.retention_days * DAY_MS),
        }
        conf.update(self.extra)
        return conf


CORE_TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec("raw", "normalised plate", 7, "events as terminals published them (JSON or Avro)"),
    TopicSpec("crossings", "normalised plate", 7, "deduplicated crossing events"),
    TopicSpec("inspections", "normalised plate", 7, "deduplicated inspection events"),
    TopicSpec("matched", "normalised plate", 30, "EXIT/ENTRY pairs with discrepancies"),
    TopicSpec("alerts", "normalised plate", 30, "alerts for officers and analysts"),
    # No longer than raw: a bad record is personal data too (a plate), kept only as long as a good one.
    TopicSpec("dlq", "original key", 7, "bad records: original bytes, error headers"),
    TopicSpec("stats", "crossing|direction", 7, "windowed per-crossing statistics"),
    TopicSpec("risk", "normalised plate", 30, "joint risk assessments (docs/risk.md)"),
    # Compacted: the latest value per key is the state (profile versions, lists per admin).
    TopicSpec("risk-profiles", "profile id@version", 3650,
              "risk profiles with both administrations' signatures", compact=True,
              single_partition=True),
    TopicSpec("risk-lists", "kind|admin", 3650, "signed watchlists (keyed hashes) and AEO lists",
              compact=True, single_partition=True),
    # Internal to the streams worker. The changelog name is Faust's "<app id>-<table>-changelog"
    # (app id = prefix + "streams"); created here so it exists with compaction before Faust runs.
    TopicSpec("streams-vehicles-changelog", "normalised plate", 30,
              "streams state changelog (per-vehicle dedup/pending state)", compact=True),
    TopicSpec("stats-facts", "facts", 1, "streams internal: per-batch facts for the stats windows",
              single_partition=True),
)


def share_stream(agency: str) -> str:
    return f"share.{agency}"


def all_topics(border: BorderConfig) -> list[TopicSpec]:
    shares = [
        TopicSpec(share_stream(a.name), "normalised plate", 7, f"records shared with {a.name}")
        for a in border.agencies
    ]
    return [*CORE_TOPICS, *shares]


def logical_streams(border: BorderConfig) -> list[str]:
    return [t.stream for t in all_topics(border)]


def partitions_for(spec: TopicSpec, settings: Settings) -> int:
    return 1 if spec.single_partition else settings.partitions
