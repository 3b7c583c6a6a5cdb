"""Prometheus exposition shared by every process: each role defines its own metrics in its package
(``producers/metrics.py``, ``streams/metrics.py``, ``consumers/metrics.py``) on the default
registry, and its process calls ``serve`` once."""

from __future__ import annotations

from prometheus_client import start_http_server


def serve(port: int, addr: str = "127.0.0.1") -> int:
    """Expose ``/metrics`` on ``port`` (0 picks a free one); returns the bound port."""
    server, _thread = start_http_server(port, addr=addr)
    return int(server.server_port)
