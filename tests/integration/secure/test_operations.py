"""Operators' commands on the secured broker: ACLs synced from configuration (idempotent, and what
is no longer generated is removed) and a credential rotated by a command (the old password stops
working at once, the new one works)."""

from __future__ import annotations

from confluent_kafka import KafkaException
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AclBinding,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)

from bordersync.border import load_border_config
from bordersync.endpoints import read_properties
from bordersync.security import acl
from bordersync.security.credentials import admin_client
from tests.conftest import run_cli, wait_for
from tests.integration.secure.conftest import PREFIXES, SecureStack

BORDER = load_border_config()


def _settled(admin: object, wanted: list[acl.Rule], managed: list[str]) -> None:
    """ACL changes reach the broker's metadata a moment after the controller accepts them: sync
    until a pass finds nothing to do."""
    wait_for(lambda: acl.sync(admin, wanted, managed) == ([], []), 30, "ACLs settled")


def test_acl_sync_is_idempotent_and_removes_what_is_no_longer_generated(
        secure_stack: SecureStack) -> None:
    admin = admin_client(secure_stack.properties(acl.ADMIN))
    wanted = [r for prefix in PREFIXES for r in acl.rules(BORDER, prefix)]
    managed = [p.name for p in acl.principals(BORDER)]
    _settled(admin, wanted, managed)
    # A grant someone added by hand (or one a removed agency had): Read on raw for an agency.
    stray = AclBinding(ResourceType.TOPIC, f"{PREFIXES[0]}raw", ResourcePatternType.LITERAL,
                       f"User:{acl.agency('mk-customs')}", "*", AclOperation.READ,
                       AclPermissionType.ALLOW)
    for future in admin.create_acls([stray], request_timeout=10).values():
        future.result(15)
    removed: list[acl.Rule] = []
    wait_for(lambda: bool(removed.extend(acl.sync(admin, wanted, managed)[1]) or removed), 30,
             "the stray grant seen and removed")
    assert removed == [acl.Rule(acl.agency("mk-customs"), "Read", "topic", "literal",
                                f"{PREFIXES[0]}raw")]
    _settled(admin, wanted, managed)


def _authenticates(props: dict[str, str]) -> bool:
    try:
        AdminClient({**props, "log_level": 0}).list_topics(timeout=10)
        return True
    except KafkaException:
        return False


def test_credentials_rotate_apply_replaces_the_password_on_the_cluster(
        secure_stack: SecureStack) -> None:
    name = acl.terminal("GR")
    old = read_properties(secure_stack.properties(name))
    assert _authenticates(old)
    settings = secure_stack.as_(acl.ADMIN)
    done = run_cli(["credentials", "rotate", "--principal", name, "--apply", "--dir",
                    str(secure_stack.secrets)], settings)
    assert done.returncode == 0, done.stderr
    assert "registered the new SCRAM credential" in done.stdout
    new = read_properties(secure_stack.properties(name))
    assert new["sasl.password"] != old["sasl.password"]
    wait_for(lambda: _authenticates(new), 30, "the new password accepted")
    assert not _authenticates(old)
