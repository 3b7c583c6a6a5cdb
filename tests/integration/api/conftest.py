"""Fixtures of the agency API tests: a private Redis per session, own key prefix per test."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from bordersync.settings import Settings
from tooling import stack


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One throw-away Redis for the API tests (loopback, free port, no persistence)."""
    port = stack.free_port()
    workdir = tmp_path_factory.mktemp("api-redis")
    server = shutil.which("redis-server") or "/usr/bin/redis-server"
    proc = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(workdir)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 20
    while True:
        try:
            client.ping()
            break
        except redis.RedisError:
            assert proc.poll() is None and time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def api_settings(redis_url: str, tmp_path: Path) -> Settings:
    """Own key prefix (tenant) and home per test, admin port chosen by the kernel."""
    prefix = f"t{uuid.uuid4().hex[:10]}."
    home = tmp_path / "home"
    home.mkdir()
    return Settings(home=home, redis_url=redis_url, topic_prefix=prefix, api_admin_port=0)
