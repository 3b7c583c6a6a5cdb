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
        # No password in the file: each service mounts its own principal's properties file.
        assert "BORDERSYNC_SASL_PASSWORD" not in env, name


def _principal(svc: dict[str, Any]) -> str:
    """The principal whose properties file is mounted where BORDERSYNC_CLIENT_PROPERTIES points."""
    target = svc["environment"]["BORDERSYNC_CLIENT_PROPERTIES"]
    found = [v.split(":")[0] for v in svc["volumes"] if v.split(":")[1] == target]
    assert len(found) == 1, found
    match = re.fullmatch(r"\./secrets/clients/([a-z0-9-]+)\.properties", found[0])
    assert match, found[0]
    return match.group(1)


def test_every_principal_has_acls_and_agencies_read_only_their_share() -> None:
    gen = _kafka_generator()
    rules = gen.acl_rules(load_border_config(), "bordersync.")
    principals = {p for p, *_ in rules}
    for name, svc in _bordersync_services().items():
        assert f"User:{_principal(svc)}" in principals, name
    assert _principal(_compose()["services"]["consumer-al-customs"]) == "agency-al-customs"


def test_compose_shared_one_password_per_role_now_each_service_has_its_own_credentials() -> None:
    """Issue #16: every agency had AGENCY_PASSWORD, every terminal TERMINAL_PASSWORD and Redis one
    password. Each service now mounts its role's own credentials and nothing else."""
    services = _bordersync_services()
    expected = {"worker": "bordersync-worker", "api": "agency-mk-customs",
                "lag-exporter": "bordersync-lag", "simulator": "terminal-mk"}
    expected |= {f"consumer-{a.name}": f"agency-{a.name}" for a in load_border_config().agencies}
    assert {n: _principal(s) for n, s in services.items()} == expected
    for name, svc in services.items():
        principal = expected[name]
        env_files = svc.get("env_file", [])
        mounted = " ".join(svc["volumes"]) + " " + " ".join(env_files)
        others = set(expected.values()) - {principal}
        assert not any(f"/{o}." in mounted for o in others), name
        assert svc["environment"]["BORDERSYNC_PROFILE"] == "production", name
        assert "BORDERSYNC_REDIS_URL" not in svc["environment"], name
        # A read-model role gets its own Redis user; the others no Redis at all.
        needs_redis = command_needs_redis(svc["command"])
        assert (env_files == [f"./secrets/clients/{principal}.env"]) == needs_redis, name
        assert any(v.endswith(":/var/lib/bordersync/keys:ro") for v in svc["volumes"]), name
    example = (COMPOSE / "env.example").read_text()
    assert not re.search(r"(AGENCY|TERMINAL|WORKER|LAG|REGISTRY|REDIS)_PASSWORD", example)
    text = (COMPOSE / "docker-compose.yml").read_text()
    assert not re.search(r"(AGENCY|TERMINAL|WORKER|LAG|REGISTRY|REDIS)_PASSWORD", text)
    redis = _compose()["services"]["redis"]
    assert "--aclfile" in redis["command"] and "--requirepass" not in redis["command"]
    registry = _compose()["services"]["schema-registry"]
    assert registry["env_file"] == ["./secrets/clients/schema-registry.env"]


def command_needs_redis(command: list[str]) -> bool:
    return command[0] in ("consume", "api", "lookup")


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


def test_make_certs_left_the_super_user_key_world_readable(tmp_path: Path) -> None:
    """Issue #16: `chmod 644 ./*.pem` opened admin.pem (the super user's key) to everyone."""
    import stat
    import subprocess

    done = subprocess.run(["bash", str(COMPOSE / "make-certs.sh"), str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    for path in tmp_path.iterdir():
        mode = stat.S_IMODE(path.stat().st_mode)
        if path.name in ("ca.crt", "api.crt"):
            assert mode == 0o644, path.name
        else:
            assert mode & 0o077 == 0, (path.name, oct(mode))
    assert b"PRIVATE KEY" in (tmp_path / "admin.pem").read_bytes()
