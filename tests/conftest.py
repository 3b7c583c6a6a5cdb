"""Shared fixtures: one local stack per session, and per-test topics and groups.

Tests under ``tests/unit`` are pure logic; everything else is an integration test against a
real Apache Kafka node (KRaft) and a real Redis, started here (never mocked, never skipped).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bordersync.settings import Settings
from bordersync.topics import create_topics
from tooling import stack

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent / "bordersync"


def pytest_report_header() -> str:
    from tooling import devbroker

    return f"broker: {devbroker.describe()} (KRaft, one node per session), redis: Debian's redis-server"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.fspath))
        if "unit" in path.parts:
            item.add_marker(pytest.mark.unit)
        else:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def stack_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    home = tmp_path_factory.mktemp("stack")
    # The API's admin port defaults to a fixed 8089: tests take a free one, so two never collide.
    base = Settings(home=home, dev_broker_port=stack.free_port(), dev_redis_port=stack.free_port(),
                    api_admin_port=0)
    info, _ = stack.up(base)
    # Stop the stack even if pytest is interrupted hard enough to skip fixture teardown.
    atexit.register(stack.down, base)
    live = base.model_copy(update={"bootstrap": info.bootstrap, "redis_url": info.redis_url})
    _warm_group_coordinator(live)
    yield live
    stack.down(base)


def _warm_group_coordinator(settings: Settings) -> None:
    """A fresh node creates ``__consumer_offsets`` on the first group request; until it has loaded,
    a synchronous commit fails with COORDINATOR_LOAD_IN_PROGRESS. Pay that once, here."""
    from confluent_kafka import Consumer, KafkaException, TopicPartition

    from bordersync.kafka import consumer_conf

    create_topics(settings.model_copy(update={"topic_prefix": "warmup."}))
    consumer = Consumer(consumer_conf(settings, "warmup"))
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                consumer.commit(offsets=[TopicPartition("warmup.stats", 0, 0)], asynchronous=False)
                return
            except KafkaException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
    finally:
        consumer.close()


@pytest.fixture
def make_settings(
    stack_settings: Settings, tmp_path: Path
) -> Iterator[Callable[..., Settings]]:
    """Settings with a fresh topic prefix (own topics) and home; topics created, and deleted
    after the test so one broker serves the whole session without piling up partitions."""
    prefixes: list[str] = []

    def factory(create: bool = True, **overrides: object) -> Settings:
        prefix = f"t{uuid.uuid4().hex[:10]}."
        prefixes.append(prefix)
        settings = stack_settings.model_copy(
            update={"topic_prefix": prefix, "home": tmp_path / prefix.rstrip("."), **overrides}
        )
        settings.home.mkdir(parents=True, exist_ok=True)
        if create:
            create_topics(settings)
        return settings

    yield factory
    delete_topics(stack_settings, prefixes)


def delete_topics(settings: Settings, prefixes: list[str]) -> None:
    """Delete every topic under ``prefixes`` (asynchronous on the broker; errors ignored)."""
    if not prefixes:
        return
    from confluent_kafka.admin import AdminClient

    from bordersync.kafka import admin_conf

    admin = AdminClient(admin_conf(settings))
    try:
        names = [t for t in admin.list_topics(timeout=10).topics if t.startswith(tuple(prefixes))]
    except Exception:
        return
    if names:
        for future in admin.delete_topics(names, operation_timeout=10).values():
            with contextlib.suppress(Exception):
                future.result(15)


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment a subprocess needs to see exactly these settings."""
    env = dict(os.environ)
    for key, value in settings.model_dump(exclude_none=True).items():
        env[f"BORDERSYNC_{key.upper()}"] = str(value)
    return env


class Proc:
    """A bordersync subprocess that is always stopped (SIGTERM, then SIGKILL)."""

    def __init__(self, args: list[str], settings: Settings, log: Path) -> None:
        self.log = log
        self._out = log.open("wb")
        self.popen = subprocess.Popen(
            [str(BIN), *args], env=settings_env(settings), stdout=self._out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )

    def stop(self, timeout: float = 15) -> int:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._out.close()
        return self.popen.returncode

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., Proc]]:
    procs: list[Proc] = []

    def factory(args: list[str], settings: Settings) -> Proc:
        proc = Proc(args, settings, tmp_path / f"proc-{len(procs)}.log")
        procs.append(proc)
        return proc

    yield factory
    for proc in procs:
        proc.stop()


def run_cli(args: list[str], settings: Settings, stdin: str | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN), *args], env=settings_env(settings), input=stdin, capture_output=True,
        text=True, timeout=timeout,
    )


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
