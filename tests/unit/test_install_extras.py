"""A terminal host installs only what a terminal needs: `pip install 'bordersync[terminal]'` brings no
Faust, aiohttp or Redis client, and the terminal's commands never import them."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from importlib.metadata import PackageNotFoundError, requires
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOT_ON_A_TERMINAL = {"faust-streaming", "aiohttp", "redis", "aiokafka", "mode-streaming"}


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _closure(roots: list[str]) -> set[str]:
    """Every distribution the roots pull in, from the installed packages' metadata (no network):
    extras-only and platform-excluded requirements are left out, as pip would."""
    seen: set[str] = set()
    todo = [_name(r) for r in roots]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            reqs = requires(name) or []
        except PackageNotFoundError:
            continue
        for req in reqs:
            marker = req.split(";", 1)[1] if ";" in req else ""
            if "extra" in marker:
                continue
            if marker and "python_version" in marker and "<" in marker:
                continue  # backports for older Pythons
            todo.append(_name(req))
    return seen


def test_terminal_extra_installs_no_faust_aiohttp_or_redis() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    roots = project["dependencies"] + project["optional-dependencies"]["terminal"]
    assert not _closure(roots) & NOT_ON_A_TERMINAL


def test_every_role_extra_exists_and_dev_has_them_all() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert {"terminal", "streams", "agency", "dev"} <= set(extras)
    assert "bordersync[streams,agency]" in extras["dev"]


BLOCKER = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split('.')[0] in {blocked!r}:
            raise ImportError('a terminal must not import ' + name)
sys.meta_path.insert(0, Block())
import producers.sdk, producers.outbox, producers.sender, tooling.simulate
from bordersync.cli import main
for args in (['publish', '--help'], ['outbox', '--help'], ['simulate', '--help']):
    try:
        main(args)
    except SystemExit as exc:
        assert exc.code == 0, (args, exc.code)
"""


def test_terminal_commands_never_import_the_other_roles_dependencies() -> None:
    blocked = {"faust", "aiohttp", "redis", "aiokafka", "mode"}
    done = subprocess.run([sys.executable, "-c", BLOCKER.format(blocked=blocked)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
