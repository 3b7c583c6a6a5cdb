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
    reads = {"raw", "stats-facts", "risk-profiles", "risk-lists"}
    for stream in topics:
        if stream.startswith("streams-"):
            continue  # the worker's own prefix
        if stream not in {"risk-profiles", "risk-lists"}:
            assert ("Write", "topic", "literal", f"{PREFIX}{stream}") in rules, stream
        if stream not in reads:
            assert ("Read", "topic", "literal", f"{PREFIX}{stream}") not in rules, stream
    assert ("Read", "group", "prefixed", f"{PREFIX}streams") in rules


def test_worker_lacked_read_on_stats_facts_and_write_on_raw() -> None:
    """Issue #16: the Faust engine consumes stats-facts and the re-key path writes raw."""
    rules = _rules("User:bordersync-worker")
    assert ("Read", "topic", "literal", f"{PREFIX}stats-facts") in rules
    assert ("Write", "topic", "literal", f"{PREFIX}raw") in rules


def test_worker_could_create_topics_it_no_longer_declares() -> None:
    """Soak seed 21: Faust declared its topics at start and died when the controller was down;
    now the catalogue creates them all (topic_allow_declare off), so the grant is gone too."""
    assert not any(op == "Create" for op, *_ in _rules("User:bordersync-worker"))


def test_worker_has_transactional_ids_under_its_prefix_and_idempotent_write() -> None:
    rules = _rules("User:bordersync-worker")
    assert {("Write", "transactional-id", "prefixed", PREFIX),
            ("Describe", "transactional-id", "prefixed", PREFIX),
            ("IdempotentWrite", "cluster", "literal", "kafka-cluster")} <= rules
    assert not any(r[1] == "transactional-id" for p in ("User:terminal-mk", "User:bordersync-lag")
                   for r in _rules(p))


def test_lag_principal_could_read_raw_dlq_and_every_share_topic() -> None:
    """Issue #16: lag only needs offsets (Describe on topics and groups), never records."""
    rules = _rules("User:bordersync-lag")
    assert rules == {("Describe", "topic", "prefixed", PREFIX),
                     ("Describe", "group", "prefixed", PREFIX)}


def test_committed_acls_script_is_the_generated_one() -> None:
    gen = _gen()
    assert (ROOT / "deploy" / "kafka" / "acls.sh").read_text() == gen.acls_script(
        load_border_config(), PREFIX)
    assert (ROOT / "deploy" / "kafka" / "topics.sh").read_text() == gen.topics_script(
        load_border_config(), PREFIX)


def test_security_doc_principal_table_is_the_generated_one() -> None:
    from bordersync.security.acl import markdown_table

    doc = (ROOT / "docs" / "security.md").read_text()
    assert markdown_table(load_border_config(), PREFIX) in doc


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
