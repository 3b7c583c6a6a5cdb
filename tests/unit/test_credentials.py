"""``bordersync credentials``: one secret per principal, files 0600, rotation of one, Redis users
limited to their agency's prefix with hashed passwords; the dev CA's keys 0600 from creation."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest

from bordersync.border import load_border_config
from bordersync.cli import main
from bordersync.endpoints import read_properties
from bordersync.security import acl
from bordersync.security.credentials import CredentialStore
from tooling.tlsca import ensure_tls

BORDER = load_border_config()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _generate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> CredentialStore:
    code = main(["credentials", "generate", "--dir", str(tmp_path / "c"), "--bootstrap",
                 "kafka-1:9092,kafka-2:9092", "--ca", "/etc/bordersync/tls/ca.crt", "--redis",
                 "redis://redis:6379/0", "--mount", "/etc/bordersync/kafka.properties",
                 "--home", str(tmp_path)])
    assert code == 0, capsys.readouterr().err
    return CredentialStore(tmp_path / "c")


def test_agencies_and_terminals_shared_one_scram_password(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = _generate(tmp_path, capsys)
    names = [p.name for p in acl.principals(BORDER)]
    passwords = store.passwords()
    assert sorted(passwords) == sorted(names)
    assert len(set(passwords.values())) == len(names)  # every principal its own secret
    assert _mode(store.directory) == 0o700
    for name in names:
        props = read_properties(store.path(name))
        assert _mode(store.path(name)) == 0o600
        assert props == {"bootstrap.servers": "kafka-1:9092,kafka-2:9092",
                         "security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512",
                         "sasl.username": name, "sasl.password": passwords[name],
                         "ssl.ca.location": "/etc/bordersync/tls/ca.crt"}


def test_generate_keeps_and_rotate_replaces_only_one(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = _generate(tmp_path, capsys)
    before = store.passwords()
    _generate(tmp_path, capsys)
    assert store.passwords() == before
    assert main(["credentials", "rotate", "--principal", "agency-al-customs", "--dir",
                 str(store.directory), "--home", str(tmp_path)]) == 0
    after = store.passwords()
    assert after["agency-al-customs"] != before["agency-al-customs"]
    assert {k: v for k, v in after.items() if k != "agency-al-customs"} == \
        {k: v for k, v in before.items() if k != "agency-al-customs"}
    env = read_properties(store.directory / "agency-al-customs.env")
    assert env["BORDERSYNC_REDIS_URL"] == \
        f"redis://agency-al-customs:{after['agency-al-customs']}@redis:6379/0"
    assert env["BORDERSYNC_CLIENT_PROPERTIES"] == "/etc/bordersync/kafka.properties"
    assert main(["credentials", "rotate", "--principal", "nobody", "--dir",
                 str(store.directory), "--home", str(tmp_path)]) == 2


def test_redis_acl_file_limits_each_agency_to_its_prefix_with_hashed_passwords(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = _generate(tmp_path, capsys)
    acl_file = (store.directory / "redis-users.acl").read_text()
    assert _mode(store.directory / "redis-users.acl") == 0o600
    lines = {line.split()[1]: line for line in acl_file.splitlines()}
    assert lines["default"] == "user default off"
    for agency in BORDER.agencies:
        name = acl.agency(agency.name)
        password = store.password(name)
        assert password not in acl_file
        digest = hashlib.sha256(password.encode()).hexdigest()
        assert lines[name].split() == ["user", name, "on", f"#{digest}",
                                       f"~bs:bordersync:{agency.name}:*", "resetchannels",
                                       "+@all", "-@dangerous"]
    assert acl.WORKER not in lines and acl.terminal("MK") not in lines


def test_dev_ca_keys_are_owner_only(tmp_path: Path) -> None:
    files = ensure_tls(tmp_path / "tls")
    assert _mode(tmp_path / "tls") == 0o700
    for path in (files.ca_key, files.broker, files.ca):
        assert _mode(path) == 0o600
    assert b"PRIVATE KEY" in files.broker.read_bytes()
    assert ensure_tls(tmp_path / "tls").broker.read_bytes() == files.broker.read_bytes()


def test_redis_prefix_is_the_read_models_key_prefix() -> None:
    from bordersync.security.credentials import redis_prefix
    from bordersync.settings import Settings
    from consumers.readmodel import Keys

    for prefix in ("bordersync.", "t123.", ""):
        settings = Settings(topic_prefix=prefix)
        for agency in BORDER.agencies:
            assert redis_prefix(prefix, agency.name) == Keys.of(settings, agency.name).prefix


def test_one_redis_for_several_topic_prefixes_keeps_them_across_rotation(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = _generate(tmp_path, capsys)
    store.set_tenants(BORDER, ["bordersync.", "second."])
    store.rotate(BORDER, "agency-al-customs")
    line = next(x for x in (store.directory / "redis-users.acl").read_text().splitlines()
                if x.startswith("user agency-al-customs "))
    assert "~bs:bordersync:al-customs:*" in line.split() and "~bs:second:al-customs:*" in line.split()
