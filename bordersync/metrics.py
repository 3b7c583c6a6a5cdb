"""Prometheus exposition shared by every process: each role defines its own metrics in its package
(``producers/metrics.py``, ``streams/metrics.py``, ``consumers/metrics.py``) on the default
registry, and its process calls ``serve`` once.

Also here: the build-info gauge every process exports and the pure part of consumer-lag arithmetic.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from importlib import metadata

from prometheus_client import REGISTRY, CollectorRegistry, Gauge, start_http_server

BUILD_INFO = Gauge(
    "bordersync_build_info",
    "Always 1; labels name the bordersync version and the role of the process.",
    ["version", "role"],
)


def version() -> str:
    try:
        return metadata.version("bordersync")
    except metadata.PackageNotFoundError:
        return "unknown"


_GLOBAL_OPTIONS = {"--bootstrap", "--redis", "--home"}


def role_from_argv(argv: list[str] | None = None) -> str:
    """The CLI command a process runs (``streams-worker``, ``consume``...), a stable role label."""
    args: list[str] = []
    tokens = iter(sys.argv[1:] if argv is None else argv)
    for token in tokens:
        if token in _GLOBAL_OPTIONS:
            next(tokens, None)  # its value is not a command
        elif not token.startswith("-"):
            args.append(token)
    if not args:
        return "bordersync"
    if args[0] in {"streams", "dev", "topics"} and len(args) > 1:
        return f"{args[0]}-{args[1]}"
    return args[0]


def set_build_info(role: str) -> None:
    BUILD_INFO.labels(version=version(), role=role).set(1)


def serve(port: int, addr: str | None = None, *, role: str | None = None,
          registry: CollectorRegistry = REGISTRY) -> int:
    """Expose ``/metrics`` on ``port`` (0 picks a free one); returns the bound port.

    ``addr`` defaults to ``settings.metrics_addr`` (loopback unless a container sets 0.0.0.0);
    ``role`` defaults to the CLI command this process runs and labels ``bordersync_build_info``.
    """
    if addr is None:
        from bordersync.settings import load

        addr = load().metrics_addr
    if registry is REGISTRY:
        set_build_info(role or role_from_argv())
    server, _thread = start_http_server(port, addr=addr, registry=registry)
    return int(server.server_port)


# --- consumer lag -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PartitionLag:
    group: str
    topic: str
    partition: int
    committed: int | None  # None: the group never committed here
    low: int
    end: int

    @property
    def lag(self) -> int:
        """Records the group still has to read: from its commit (or the log start) to the end."""
        start = self.low if self.committed is None or self.committed < 0 else self.committed
        # A commit below the log start (retention deleted records) only owes what still exists.
        return max(0, self.end - max(start, self.low))


def total_lag(rows: list[PartitionLag]) -> int:
    return sum(r.lag for r in rows)
