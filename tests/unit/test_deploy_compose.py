"""deploy/compose: Docker can't run here, so the stack is checked structurally (PyYAML) against the
code it runs: commands parse with bordersync's own CLI, BORDERSYNC_* names are Settings fields,
principals have ACLs, Prometheus targets and mounted files exist."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from bordersync.border import load_border_config
from bordersync.cli import build_parser
from bordersync.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy" / "compose"


def _compose() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((COMPOSE / "docker-compose.yml").read_text("utf-8"))
    return doc


def _kafka_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("kafka_generate", ROOT / "deploy" / "kafka" / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _bordersync_services() -> dict[str, dict[str, Any]]:
    return {n: s for n, s in _compose()["services"].items() if s.get("image", "").startswith("bordersync")}


def test_kafka_is_three_kraft_brokers_with_rf3_and_min_isr2() -> None:
    services = _compose()["services"]
    brokers = {n: s for n, s in services.items() if re.fullmatch(r"kafka-\d", n)}
    assert len(brokers) == 3
    ids = set()
    for name, svc in brokers.items():
        env = svc["environment"]
        assert env["KAFKA_PROCESS_ROLES"] == "broker,controller", name
        assert len(env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")) == 3
        assert int(env["KAFKA_DEFAULT_REPLICATION_FACTOR"]) == 3
        assert int(env["KAFKA_MIN_INSYNC_REPLICAS"]) == 2
        assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
        assert env["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"
        assert "SASL_SSL" in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"]
        ids.add(env["KAFKA_NODE_ID"])
    assert ids == {1, 2, 3}


def test_the_stack_has_every_part() -> None:
    services = set(_compose()["services"])
    assert {"schema-registry", "redis", "prometheus", "grafana", "worker", "api", "kafka-init",
            "lag-exporter"} <= services
    for agency in load_border_config().agencies:
        assert f"consumer-{agency.name}" in services, agency.name
    assert _compose()["services"]["worker"]["deploy"]["replicas"] >= 2


def test_bordersync_services_run_real_commands_with_real_settings() -> None:
    parser = build_parser()
    fields = {name.upper() for name in Settings.model_fields}
    services = _bordersync_services()
    assert len(services) >= 11
    for name, svc in services.items():
        parser.parse_args([str(a) for a in svc["command"]])  # exits (SystemExit) on a bad command
        env = svc["environment"]
        for key in env:
            assert key.startswith("BORDERSYNC_"), (name, key)
            assert key.removeprefix("BORDERSYNC_") in fields, (name, key)
        assert env["BORDERSYNC_SECURITY_PROTOCOL"] == "SASL_SSL", name
        assert int(env["BORDERSYNC_REPLICATION_FACTOR"]) == 3, name
        assert env["BORDERSYNC_SCHEMA_REGISTRY_URL"] and env["BORDERSYNC_BOOTSTRAP"].count(",") == 2
        assert env["BORDERSYNC_METRICS_ADDR"] == "0.0.0.0", name
        # The password never sits in the file, only a reference to .env.
        assert str(env["BORDERSYNC_SASL_PASSWORD"]).startswith("${"), name


def test_every_principal_has_acls_and_agencies_read_only_their_share() -> None:
    gen = _kafka_generator()
    rules = gen.acl_rules(load_border_config(), "bordersync.")
    principals = {p for p, *_ in rules}
    for name, svc in _bordersync_services().items():
        assert f"User:{svc['environment']['BORDERSYNC_SASL_USERNAME']}" in principals, name
    consumer = _compose()["services"]["consumer-al-customs"]
    assert consumer["environment"]["BORDERSYNC_SASL_USERNAME"] == "agency-al-customs"


def test_prometheus_targets_are_services_and_mounts_exist() -> None:
    services = _compose()["services"]
    prom = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    hosts = set()
    for job in prom["scrape_configs"]:
        for static in job.get("static_configs", []):
            hosts |= {t.split(":")[0] for t in static["targets"]}
        for dns in job.get("dns_sd_configs", []):
            hosts |= set(dns["names"])
    hosts.discard("localhost")
    assert hosts <= set(services), hosts - set(services)
    for name, svc in services.items():
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("../"):
                assert (COMPOSE / source).exists(), (name, source)
    grafana = " ".join(services["grafana"]["volumes"])
    provider = yaml.safe_load(
        (ROOT / "deploy" / "grafana" / "provisioning" / "dashboards" / "bordersync.yml").read_text())
    assert f"../grafana/dashboards:{provider['providers'][0]['options']['path']}:ro" in grafana


def test_kafka_init_creates_every_principal() -> None:
    init = _compose()["services"]["kafka-init"]["environment"]
    border = load_border_config()
    assert set(init["AGENCIES"].split()) == {a.name for a in border.agencies}
    assert set(init["ADMINS"].split()) == {a.lower() for c in border.crossings for a in c.sides}
