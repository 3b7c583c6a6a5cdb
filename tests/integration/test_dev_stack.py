"""`bordersync dev up|down|status` as a user runs it: idempotent, clean, clear on a taken port."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

from bordersync import stack
from tests.conftest import BIN


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
        assert (tmp_path / "logs" / "broker.log").exists()
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
