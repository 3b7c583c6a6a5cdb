"""Who may do what on the cluster: principals and least-privilege ACLs, from configuration.

One source of truth for every view of the rules: ``sync`` applies them with the admin client
(``dev up --secure``, ``bordersync acls apply``), ``deploy/kafka/generate.py`` renders
``acls.sh`` from them and docs/security.md carries ``markdown_table`` of them (a test keeps both
equal). Principals come from the border configuration (one terminal principal per
administration, one per partner agency) and topics from the catalogue, so a new agency or stream
gets its rules without code.

Operations tooling: only ``bordersync`` commands for operators import this module.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bordersync.border import BorderConfig
from bordersync.catalogue import all_topics, share_stream

CLUSTER = "kafka-cluster"
ADMIN = "admin"
WORKER = "bordersync-worker"
LAG = "bordersync-lag"
REGISTRY = "schema-registry"
# Streams the worker writes and never reads (stats-facts, the changelog and raw are special).
_WORKER_READS = ("raw", "stats-facts", "risk-profiles", "risk-lists")


@dataclass(frozen=True, order=True)
class Principal:
    """A SCRAM user: ``role`` says what it is, ``subject`` its administration or agency."""

    name: str
    role: str
    subject: str = ""

    @property
    def user(self) -> str:
        return f"User:{self.name}"


def terminal(admin: str) -> str:
    return f"terminal-{admin.lower()}"


def agency(name: str) -> str:
    return f"agency-{name}"


def admins(border: BorderConfig) -> list[str]:
    return sorted({a for c in border.crossings for a in c.sides})


def principals(border: BorderConfig) -> list[Principal]:
    """Every principal of a deployment: one per role, per terminal administration, per agency."""
    out = [Principal(ADMIN, "admin"), Principal(WORKER, "worker")]
    out += [Principal(terminal(a), "terminal", a) for a in admins(border)]
    out += [Principal(agency(a.name), "agency", a.name) for a in border.agencies]
    out += [Principal(LAG, "lag"), Principal(REGISTRY, "schema-registry")]
    return out


@dataclass(frozen=True, order=True)
class Rule:
    """An ALLOW binding: principal name, operation, resource type, pattern type, resource name."""

    principal: str
    operation: str  # Read, Write, Describe, Create, IdempotentWrite, ...
    resource: str  # topic, group, cluster, transactional-id
    pattern: str  # literal, prefixed
    name: str


def rules(border: BorderConfig, prefix: str) -> list[Rule]:
    """Least privilege for every principal but the admin (a super user, no ACLs needed)."""
    out: list[Rule] = []
    raw = f"{prefix}raw"

    def topic(who: str, ops: Iterable[str], name: str, pattern: str = "literal") -> None:
        out.extend(Rule(who, op, "topic", pattern, name) for op in ops)

    for admin in admins(border):
        who = terminal(admin)
        topic(who, ("Write", "Describe"), raw)
        out.append(Rule(who, "IdempotentWrite", "cluster", "literal", CLUSTER))

    app_id = f"{prefix}streams"
    # Read raw; Write raw too: a record arriving on the wrong partition is re-keyed onto raw.
    topic(WORKER, ("Read", "Write", "Describe"), raw)
    for spec in all_topics(border):
        if spec.stream == "raw" or spec.stream.startswith("streams-"):
            continue
        ops = ("Read", "Write", "Describe") if spec.stream in _WORKER_READS else ("Write", "Describe")
        if spec.stream in ("risk-profiles", "risk-lists"):
            ops = ("Read", "Describe")
        topic(WORKER, ops, f"{prefix}{spec.stream}")
    # The worker's own topics are "<app id>-..." (the changelog). It never creates them: the
    # catalogue does (Faust's topic_allow_declare is off, streams/app.py), so no Create.
    topic(WORKER, ("Read", "Write", "Describe"), f"{app_id}-", "prefixed")
    out.append(Rule(WORKER, "Read", "group", "prefixed", app_id))
    out.append(Rule(WORKER, "Read", "group", "literal", f"{prefix}restore"))
    out += [Rule(WORKER, op, "transactional-id", "prefixed", prefix) for op in ("Write", "Describe")]
    out.append(Rule(WORKER, "IdempotentWrite", "cluster", "literal", CLUSTER))

    for a in border.agencies:
        who = agency(a.name)
        topic(who, ("Read", "Describe"), f"{prefix}{share_stream(a.name)}")
        out.append(Rule(who, "Read", "group", "literal", f"{prefix}agency.{a.name}"))

    # Offsets and watermarks only (OffsetFetch, ListOffsets): Describe, never Read.
    topic(LAG, ("Describe",), prefix, "prefixed")
    out.append(Rule(LAG, "Describe", "group", "prefixed", prefix))

    topic(REGISTRY, ("Read", "Write", "Describe", "Create", "DescribeConfigs"), "_schemas")
    out.append(Rule(REGISTRY, "Read", "group", "prefixed", "schema-registry"))
    return out


def markdown_table(border: BorderConfig, prefix: str) -> str:
    """Principals x allowed operations, one row per principal (docs/security.md)."""
    by: dict[str, list[Rule]] = {}
    for rule in rules(border, prefix):
        by.setdefault(rule.principal, []).append(rule)
    lines = ["| principal | role | allowed operations |", "|---|---|---|"]
    for p in principals(border):
        if p.role == "admin":
            grants = "super user (`super.users`): topics, ACLs, SCRAM users"
        else:
            ops: dict[tuple[str, str, str], list[str]] = {}
            for r in by.get(p.name, []):
                ops.setdefault((r.resource, r.name, r.pattern), []).append(r.operation)
            grants = "; ".join(
                f"{res} `{name}{'*' if pattern == 'prefixed' else ''}`: {', '.join(o)}"
                for (res, name, pattern), o in ops.items())
        lines.append(f"| `{p.name}` | {p.role}{' ' + p.subject if p.subject else ''} | {grants} |")
    return "\n".join(lines) + "\n"


# -- applying with the admin client --------------------------------------------------------------

def _binding(rule: Rule) -> Any:
    from confluent_kafka.admin import (  # type: ignore[attr-defined]
        AclBinding,
        AclOperation,
        AclPermissionType,
        ResourcePatternType,
        ResourceType,
    )

    restype = {"topic": ResourceType.TOPIC, "group": ResourceType.GROUP,
               "cluster": ResourceType.BROKER,
               "transactional-id": ResourceType.TRANSACTIONAL_ID}[rule.resource]
    op = AclOperation[re.sub(r"(?<!^)(?=[A-Z])", "_", rule.operation).upper()]
    pattern = ResourcePatternType.PREFIXED if rule.pattern == "prefixed" else \
        ResourcePatternType.LITERAL
    return AclBinding(restype, rule.name, pattern, f"User:{rule.principal}", "*", op,
                      AclPermissionType.ALLOW)


def _rule_of(binding: Any) -> Rule | None:
    from confluent_kafka.admin import ResourcePatternType, ResourceType  # type: ignore[attr-defined]

    resource = {ResourceType.TOPIC: "topic", ResourceType.GROUP: "group",
                ResourceType.BROKER: "cluster",
                ResourceType.TRANSACTIONAL_ID: "transactional-id"}.get(binding.restype)
    if resource is None or not str(binding.principal).startswith("User:"):
        return None
    op = "".join(w.capitalize() for w in binding.operation.name.split("_"))
    pattern = "prefixed" if binding.resource_pattern_type == ResourcePatternType.PREFIXED \
        else "literal"
    return Rule(str(binding.principal)[5:], op, resource, pattern, binding.name)


def sync(admin_client: Any, wanted: list[Rule], managed: Iterable[str],
         timeout: float = 30.0) -> tuple[list[Rule], list[Rule]]:
    """Make the cluster's ACLs of the ``managed`` principals exactly ``wanted``: create what is
    missing, delete what is no longer wanted (an agency removed from the configuration, a rule
    narrowed). Idempotent; returns ``(created, deleted)``."""
    from confluent_kafka.admin import (  # type: ignore[attr-defined]
        AclBindingFilter,
        AclOperation,
        AclPermissionType,
        ResourcePatternType,
        ResourceType,
    )

    managed = set(managed)
    anything: Any = None  # the filter's wildcard for name, principal and host
    any_filter = AclBindingFilter(ResourceType.ANY, anything, ResourcePatternType.ANY, anything,
                                  anything, AclOperation.ANY, AclPermissionType.ANY)
    existing = admin_client.describe_acls(any_filter, request_timeout=timeout).result(timeout)
    have: dict[Rule, Any] = {}
    for binding in existing:
        rule = _rule_of(binding)
        if rule is not None and rule.principal in managed:
            have[rule] = binding
    want = set(wanted)
    created = sorted(want - set(have))
    deleted = sorted(set(have) - want)
    if created:
        futures = admin_client.create_acls([_binding(r) for r in created], request_timeout=timeout)
        for future in futures.values():
            future.result(timeout)
    if deleted:
        filters = [AclBindingFilter(b.restype, b.name, b.resource_pattern_type, b.principal,
                                    b.host, b.operation, b.permission_type)
                   for r, b in have.items() if r in set(deleted)]
        for future in admin_client.delete_acls(filters, request_timeout=timeout).values():
            future.result(timeout)
    return created, deleted
