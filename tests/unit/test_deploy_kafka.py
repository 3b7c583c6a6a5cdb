"""deploy/kafka/generate.py: least-privilege ACLs per principal and production topic settings."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from bordersync.border import load_border_config
from bordersync.catalogue import all_topics

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "bordersync."


def _gen() -> ModuleType:
    spec = importlib.util.spec_from_file_location("kafka_generate", ROOT / "deploy" / "kafka" / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _rules(principal: str) -> set[tuple[str, str, str, str]]:
    return {tuple(r[1:]) for r in _gen().acl_rules(load_border_config(), PREFIX) if r[0] == principal}  # type: ignore[misc]


def test_agency_reads_only_its_share_topic_and_group() -> None:
    for agency in load_border_config().agencies:
        assert _rules(f"User:agency-{agency.name}") == {
            ("Read", "topic", "literal", f"{PREFIX}share.{agency.name}"),
            ("Describe", "topic", "literal", f"{PREFIX}share.{agency.name}"),
            ("Read", "group", "literal", f"{PREFIX}agency.{agency.name}"),
        }


def test_terminals_only_write_raw() -> None:
    rules = _rules("User:terminal-mk")
    assert {r for r in rules if r[1] == "topic"} == {
        ("Write", "topic", "literal", f"{PREFIX}raw"), ("Describe", "topic", "literal", f"{PREFIX}raw")}
    assert all(op in {"Write", "Describe", "IdempotentWrite"} for op, *_ in rules)


def test_worker_reads_raw_and_writes_the_rest() -> None:
    rules = _rules("User:bordersync-worker")
    topics = [t.stream for t in all_topics(load_border_config())]
    assert ("Read", "topic", "literal", f"{PREFIX}raw") in rules
    assert ("Write", "topic", "literal", f"{PREFIX}raw") not in rules
    for stream in topics:
        if stream != "raw":
            assert ("Write", "topic", "literal", f"{PREFIX}{stream}") in rules, stream
            assert ("Read", "topic", "literal", f"{PREFIX}{stream}") not in rules, stream
    assert ("Read", "group", "literal", f"{PREFIX}streams") in rules


def test_topic_script_has_production_settings(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(ROOT / "deploy" / "kafka" / "generate.py"),
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    script = (tmp_path / "topics.sh").read_text()
    creates = [line for line in script.splitlines() if "--create" in line]
    assert len(creates) == len(all_topics(load_border_config()))
    for line in creates:
        assert "--replication-factor 3" in line and "min.insync.replicas=2" in line
        assert "unclean.leader.election.enable=false" in line
    for name in ("topics.sh", "acls.sh"):
        assert subprocess.run(["bash", "-n", str(tmp_path / name)]).returncode == 0
