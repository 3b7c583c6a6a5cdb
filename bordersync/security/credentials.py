"""One credential per principal: SCRAM passwords in librdkafka properties files, Redis ACL users.

Operations tooling (``bordersync credentials``, ``dev up --secure``); role code only ever reads a
properties file through ``bordersync.kafka`` (``BORDERSYNC_CLIENT_PROPERTIES``).

A credentials directory holds, per principal of ``bordersync.security.acl.principals``:

- ``<principal>.properties`` (0600): ``bootstrap.servers``, ``security.protocol=SASL_SSL``,
  ``sasl.mechanism``, ``sasl.username``, ``sasl.password``, ``ssl.ca.location`` — a file any
  librdkafka client (and ``kcat -F``) uses as is;
- ``<principal>.env`` (0600), agencies only: ``BORDERSYNC_CLIENT_PROPERTIES`` and
  ``BORDERSYNC_REDIS_URL`` with the agency's own Redis ACL user (compose ``env_file``);
- ``redis-users.acl`` (0600): the Redis ACL file, each agency limited to its key prefix, passwords
  stored as SHA-256 (``#<hex>``) only.

Every principal has its own random password (no shared secret between agencies or
administrations); ``rotate`` replaces one and, given a cluster, re-registers it there.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bordersync.border import BorderConfig
from bordersync.endpoints import read_properties
from bordersync.security.acl import ADMIN, Principal, principals
from bordersync.security.secretfile import write_secret

MECHANISM = "SCRAM-SHA-512"
ITERATIONS = 8192
REDIS_ACL_FILE = "redis-users.acl"
# Where generate was told the cluster, CA, Redis and mount point are (rotate reuses it).
LAYOUT_FILE = "layout.json"
# What an agency's Redis user may run on its own keys: everything but the dangerous commands
# (FLUSHALL, CONFIG, KEYS, DEBUG, ...); scripts (the sink's batch apply) are checked key by key.
REDIS_AGENCY_RULES = "+@all -@dangerous"


def new_password() -> str:
    return secrets.token_urlsafe(24)


def properties_text(bootstrap: str, username: str, password: str, ca_location: str) -> str:
    return "".join(f"{k}={v}\n" for k, v in (
        ("bootstrap.servers", bootstrap),
        ("security.protocol", "SASL_SSL"),
        ("sasl.mechanism", MECHANISM),
        ("sasl.username", username),
        ("sasl.password", password),
        ("ssl.ca.location", ca_location),
    ))


def redis_prefix(tenant_prefix: str, agency: str) -> str:
    """The agency's key prefix (``consumers.readmodel.Keys.of``, without importing a role)."""
    tenant = tenant_prefix.rstrip(".") or "bordersync"
    return f"bs:{tenant}:{agency}:"


def redis_rule(p: Principal, tenants: Iterable[str], password: str) -> list[str]:
    """``ACL SETUSER`` arguments of an agency's Redis user: its own key prefix (in each tenant's
    key space when one Redis serves several topic prefixes), no channels, hashed password."""
    secret = f"#{hashlib.sha256(password.encode()).hexdigest()}"
    patterns = [f"~{redis_prefix(tenant, p.subject)}*" for tenant in tenants]
    return ["reset", "on", secret, *patterns, "resetchannels", *REDIS_AGENCY_RULES.split()]


@dataclass(frozen=True)
class CredentialStore:
    """A directory of per-principal credentials (mode 0700, files 0600)."""

    directory: Path

    def path(self, name: str) -> Path:
        return self.directory / f"{name}.properties"

    def password(self, name: str) -> str:
        return read_properties(self.path(name))["sasl.password"]

    def passwords(self) -> dict[str, str]:
        return {p.stem: read_properties(p)["sasl.password"]
                for p in sorted(self.directory.glob("*.properties"))}

    def _layout(self) -> dict[str, Any]:
        path = self.directory / LAYOUT_FILE
        found: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
        return found

    def set_tenants(self, border: BorderConfig, tenants: Iterable[str]) -> Path:
        """The topic prefixes whose read models the agencies' Redis users may reach (one Redis
        serving several deployments); rewrites the Redis ACL file."""
        layout = {**self._layout(), "tenants": sorted(set(tenants))}
        write_secret(self.directory / LAYOUT_FILE, json.dumps(layout, indent=2).encode())
        return self.write_redis_acl(border)

    def _write(self, p: Principal, password: str) -> None:
        layout = self._layout()
        props = properties_text(layout["bootstrap"], p.name, password, layout["ca"])
        write_secret(self.path(p.name), props.encode())
        redis_url = layout.get("redis")
        if p.role in ("agency", "admin") and redis_url:
            scheme, _, rest = redis_url.partition("://")
            url = f"{scheme}://{p.name}:{password}@{rest.split('@')[-1]}"
            mount = layout.get("mount")
            where = mount.format(principal=p.name) if mount else str(self.path(p.name))
            env = (f"BORDERSYNC_CLIENT_PROPERTIES={where}\n"
                   f"BORDERSYNC_REDIS_URL={url}\n"
                   + (f"BORDERSYNC_AGENCY={p.subject}\n" if p.subject else ""))
            write_secret(self.directory / f"{p.name}.env", env.encode())
        if p.role == "schema-registry":
            # Schema Registry is a Java client: its JAAS line, for a compose ``env_file``.
            jaas = ("org.apache.kafka.common.security.scram.ScramLoginModule required "
                    f'username="{p.name}" password="{password}";')
            write_secret(self.directory / f"{p.name}.env",
                         f"SCHEMA_REGISTRY_KAFKASTORE_SASL_JAAS_CONFIG={jaas}\n".encode())

    def generate(self, border: BorderConfig, bootstrap: str, ca: str, tenant: str = "bordersync.",
                 redis_url: str | None = None, mount: str | None = None) -> list[str]:
        """A credential for every principal that has none yet (existing ones are kept); the
        Redis ACL file is rewritten from the result. Returns the principals created.

        ``redis_url`` (no credentials) is where agencies' read models live; ``mount`` is the
        path processes see their properties file at (``{principal}`` is replaced), when it is
        not this directory (containers)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self.directory.chmod(0o700)
        layout = {"bootstrap": bootstrap, "ca": ca, "redis": redis_url or "",
                  "mount": mount or "", "tenants": self._layout().get("tenants", [tenant])}
        write_secret(self.directory / LAYOUT_FILE, json.dumps(layout, indent=2).encode())
        created = []
        for p in principals(border):
            if self.path(p.name).exists():
                continue
            self._write(p, new_password())
            created.append(p.name)
        self.write_redis_acl(border)
        return created

    def rotate(self, border: BorderConfig, name: str) -> str:
        """A new password for ``name`` (same layout as ``generate`` wrote); returns it."""
        found = [p for p in principals(border) if p.name == name]
        if not found:
            raise KeyError(f"unknown principal {name!r}")
        password = new_password()
        self._write(found[0], password)
        self.write_redis_acl(border)
        return password

    def write_redis_acl(self, border: BorderConfig) -> Path:
        """Redis ACL file: ``default`` off (no anonymous access), the admin user for operators,
        one user per agency restricted to its prefix (hashed passwords)."""
        lines = ["user default off"]
        for p in principals(border):
            if not self.path(p.name).exists():
                continue
            digest = hashlib.sha256(self.password(p.name).encode()).hexdigest()
            if p.name == ADMIN:
                lines.append(f"user {ADMIN} on #{digest} ~* &* +@all")
            elif p.role == "agency":
                rule = redis_rule(p, self._layout().get("tenants", ["bordersync."]),
                                  self.password(p.name))
                lines.append(" ".join(["user", p.name, *[r for r in rule if r != "reset"]]))
        path = self.directory / REDIS_ACL_FILE
        write_secret(path, ("\n".join(lines) + "\n").encode())
        return path


def admin_client(properties: Path) -> Any:
    from confluent_kafka.admin import AdminClient

    return AdminClient({**read_properties(properties), "log_level": 0})


def register_scram(admin: Any, passwords: dict[str, str], timeout: float = 30.0) -> None:
    """Create or replace the SCRAM-SHA-512 credential of every user (AlterUserScramCredentials)."""
    from confluent_kafka.admin import (  # type: ignore[attr-defined]
        ScramCredentialInfo,
        ScramMechanism,
        UserScramCredentialUpsertion,
    )

    info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, ITERATIONS)
    upserts = [UserScramCredentialUpsertion(user, info, password.encode())
               for user, password in sorted(passwords.items())]
    for future in admin.alter_user_scram_credentials(upserts, request_timeout=timeout).values():
        future.result(timeout)
