"""Where the cluster and Redis are: the settings, a client properties file, or the local stack that
``bordersync dev up`` recorded in ``$BORDERSYNC_HOME/stack.json``.

Vocabulary every role needs (clients resolve their bootstrap here); starting and stopping the local
stack is ``tooling.stack``'s business, which no role imports.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from bordersync.settings import Settings


class StackError(RuntimeError):
    """A clear, user-facing reason why the stack could not be started or found."""


@dataclass(frozen=True)
class StackInfo:
    bootstrap: str
    redis_url: str
    broker_pids: list[int]
    redis_pid: int
    brokers: int = 1
    broker: str = ""  # e.g. "apache-kafka 4.4.0"
    # `dev up --secure`: the directory of per-principal client properties files.
    secrets: str | None = None


def state_file(home: Path) -> Path:
    return home / "stack.json"


def read_state(home: Path) -> StackInfo | None:
    path = state_file(home)
    if not path.exists():
        return None
    try:
        return StackInfo(**json.loads(path.read_text()))
    except (ValueError, TypeError):
        return None


def read_properties(path: Path) -> dict[str, str]:
    """``key=value`` lines of a Java/librdkafka properties file (``#`` comments, no escapes)."""
    out: dict[str, str] = {}
    for line in path.read_text("utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "!")) or "=" not in line:
            continue
        key, _, value = line.partition("=")
        out[key.strip()] = value.strip()
    return out


def resolve_bootstrap(settings: Settings) -> str:
    """The setting, else the client properties file's ``bootstrap.servers``, else the stack's."""
    if settings.bootstrap:
        return settings.bootstrap
    if settings.client_properties is not None:
        found = read_properties(settings.client_properties).get("bootstrap.servers")
        if found:
            return found
    info = read_state(settings.home)
    if info is None:
        raise StackError(
            "no broker configured: run `bordersync dev up` or set BORDERSYNC_BOOTSTRAP / --bootstrap"
        )
    return info.bootstrap


def resolve_redis_url(settings: Settings) -> str:
    if settings.redis_url:
        return settings.redis_url
    info = read_state(settings.home)
    if info is None:
        raise StackError(
            "no Redis configured: run `bordersync dev up` or set BORDERSYNC_REDIS_URL / --redis"
        )
    return info.redis_url
