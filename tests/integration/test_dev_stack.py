"""`bordersync dev up|down|status` as a user runs it: idempotent, clean, clear on a taken port."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

from tests.conftest import BIN, wait_for
from tooling import stack


def _cli(home: Path, *args: str, bport: int, rport: int) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "BORDERSYNC_HOME": str(home),
        "BORDERSYNC_DEV_BROKER_PORT": str(bport), "BORDERSYNC_DEV_REDIS_PORT": str(rport),
    }
    return subprocess.run([str(BIN), *args], env=env, capture_output=True, text=True, timeout=90)


def test_up_twice_down_twice(tmp_path: Path) -> None:
    bport, rport = stack.free_port(), stack.free_port()
    try:
        first = _cli(tmp_path, "dev", "up", bport=bport, rport=rport)
        assert first.returncode == 0, first.stderr
        assert first.stdout.strip() == f"bootstrap=127.0.0.1:{bport} redis=redis://127.0.0.1:{rport}/0"
        assert "started" in first.stderr
        second = _cli(tmp_path, "dev", "up", bport=bport, rport=rport)
        assert second.returncode == 0
        assert second.stdout == first.stdout
        assert "already running" in second.stderr
        status = _cli(tmp_path, "dev", "status", bport=bport, rport=rport)
        assert status.returncode == 0 and '"running": true' in status.stdout
        assert (tmp_path / "logs" / "kafka-1.log").exists()
    finally:
        down = _cli(tmp_path, "dev", "down", bport=bport, rport=rport)
    assert down.returncode == 0 and "stopped broker" in down.stdout
    assert not stack.port_in_use(bport) and not stack.port_in_use(rport)
    again = _cli(tmp_path, "dev", "down", bport=bport, rport=rport)
    assert again.returncode == 0 and "not running" in again.stdout
    status = _cli(tmp_path, "dev", "status", bport=bport, rport=rport)
    assert status.returncode == 1 and '"running": false' in status.stdout


def test_up_with_port_taken_says_which_and_how(tmp_path: Path) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        taken = blocker.getsockname()[1]
        result = _cli(tmp_path, "dev", "up", bport=taken, rport=stack.free_port())
    assert result.returncode == 1
    assert f"port {taken} for the broker is already in use" in result.stderr
    assert "BORDERSYNC_DEV_BROKER_PORT" in result.stderr
    assert not (tmp_path / "stack.json").exists()


def test_commands_without_stack_say_what_to_do(tmp_path: Path) -> None:
    result = _cli(tmp_path, "topics", "create", bport=1, rport=1)
    assert result.returncode == 1
    assert "bordersync dev up" in result.stderr


def _produce_one(bootstrap: str, topic: str) -> None:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    producer.produce(topic, b"kept", b"k")
    assert producer.flush(30) == 0


def _count(bootstrap: str, topic: str) -> int:
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "count",
                         "enable.partition.eof": True})
    try:
        parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
        seen, eof = 0, set()
        while len(eof) < len(parts):
            for msg in consumer.consume(100, 1.0):
                if msg.error():
                    eof.add(msg.partition())
                else:
                    seen += 1
        return seen
    finally:
        consumer.close()


def test_topics_survive_down_up_and_purge_clears_them(tmp_path: Path) -> None:
    bport, rport = stack.free_port(), stack.free_port()
    bootstrap = f"127.0.0.1:{bport}"
    try:
        assert _cli(tmp_path, "dev", "up", bport=bport, rport=rport).returncode == 0
        _produce_one(bootstrap, "bordersync.raw")
        assert _cli(tmp_path, "dev", "down", bport=bport, rport=rport).returncode == 0
        again = _cli(tmp_path, "dev", "up", bport=bport, rport=rport)
        assert again.returncode == 0, again.stderr
        assert _count(bootstrap, "bordersync.raw") == 1
        purged = _cli(tmp_path, "dev", "down", "--purge", bport=bport, rport=rport)
        assert "purged Kafka data" in purged.stdout
        assert not (tmp_path / "kafka").exists()
        assert _cli(tmp_path, "dev", "up", bport=bport, rport=rport).returncode == 0
        assert _count(bootstrap, "bordersync.raw") == 0
    finally:
        _cli(tmp_path, "dev", "down", "--purge", bport=bport, rport=rport)
    assert not stack.port_in_use(bport)


def test_up_without_java_names_the_package(tmp_path: Path) -> None:
    env = {"PATH": str(tmp_path), "BORDERSYNC_HOME": str(tmp_path / "home"),
           "BORDERSYNC_DEV_BROKER_PORT": str(stack.free_port()),
           "BORDERSYNC_DEV_REDIS_PORT": str(stack.free_port())}
    result = subprocess.run([str(BIN), "dev", "up"], env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 1
    assert "java not found" in result.stderr and "openjdk-17-jre-headless" in result.stderr


def test_three_brokers_keep_producing_and_consuming_with_one_killed(tmp_path: Path) -> None:
    import os
    import signal

    from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

    from bordersync.settings import Settings

    bport, rport = stack.free_port(), stack.free_port()
    settings = Settings(home=tmp_path, dev_broker_port=bport, dev_redis_port=rport, dev_brokers=3)
    try:
        up = _cli(tmp_path, "dev", "up", "--brokers", "3", bport=bport, rport=rport)
        assert up.returncode == 0, up.stderr
        info = stack.read_state(tmp_path)
        assert info is not None and len(info.broker_pids) == 3 and info.bootstrap.count(",") == 2
        admin = AdminClient({"bootstrap.servers": info.bootstrap})
        topic = admin.list_topics(timeout=10).topics["bordersync.raw"]
        assert all(len(p.replicas) == 3 for p in topic.partitions.values())
        admin.create_topics([NewTopic("probe", 3, 3, config={"min.insync.replicas": "2"})])[
            "probe"].result(30)
        for victim in range(3):
            os.killpg(info.broker_pids[victim], signal.SIGKILL)
            for _ in range(5):
                _produce_one(info.bootstrap, "probe")
            stack.start_node(settings, victim + 1)
            info = stack.read_state(tmp_path)
            assert info is not None

            def in_sync() -> bool:
                parts = admin.list_topics(timeout=10).topics["probe"].partitions.values()
                return all(len(p.isrs) == 3 for p in parts)

            wait_for(in_sync, 90, f"node {victim + 1} back in sync")
        assert _count(info.bootstrap, "probe") == 15
    finally:
        _cli(tmp_path, "dev", "down", "--purge", bport=bport, rport=rport)
