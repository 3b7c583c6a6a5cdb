"""One secured broker for every secure test: ``bordersync dev up --secure`` once per session.

TLS + SASL/SCRAM listeners only, every principal of ``bordersync.security.acl`` with its own password and
the generated ACLs for two topic prefixes (the Faust engine's and the batch engine's tests each
own one, so their stream groups and changelogs never meet). Tests act as a principal by handing
processes that principal's properties file (``BORDERSYNC_CLIENT_PROPERTIES``), as a deployment
does.
"""

from __future__ import annotations

import atexit
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from bordersync.border import load_border_config
from bordersync.endpoints import read_properties
from bordersync.security import acl
from bordersync.security.credentials import CredentialStore, admin_client
from bordersync.settings import Settings
from bordersync.topics import create_topics
from tests.conftest import BIN
from tooling import stack

# The Faust flow's (and `dev up`'s), the batch engine flow's, the allow/deny matrix's.
PREFIXES = ("bordersync.", "sbatch.", "smatrix.")


@dataclass(frozen=True)
class SecureStack:
    base: Settings
    secrets: Path
    bootstrap: str
    redis_port: int

    def properties(self, principal: str) -> Path:
        return self.secrets / f"{principal}.properties"

    def redis_url(self, principal: str) -> str:
        """The principal's Redis URL from its ``.env`` file (agencies and admin only)."""
        env = read_properties(self.secrets / f"{principal}.env")
        return env["BORDERSYNC_REDIS_URL"]

    def as_(self, principal: str, prefix: str = PREFIXES[0], **overrides: object) -> Settings:
        """Settings of a process running as ``principal`` (nothing but its properties file)."""
        update: dict[str, object] = {
            "client_properties": self.properties(principal), "bootstrap": None,
            "topic_prefix": prefix, "redis_url": None,
        }
        if (self.secrets / f"{principal}.env").exists():
            update["redis_url"] = self.redis_url(principal)
        update.update(overrides)
        return self.base.model_copy(update=update)


@pytest.fixture(scope="session")
def secure_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureStack]:
    home = tmp_path_factory.mktemp("secure")
    bport, rport = stack.free_port(), stack.free_port()
    base = Settings(home=home, dev_broker_port=bport, dev_redis_port=rport, dev_secure=True)
    # The caller's environment (PATH, HOME, the jar cache) without its BORDERSYNC_* settings.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("BORDERSYNC_") or k == "BORDERSYNC_KAFKA_CACHE"}
    env |= {"BORDERSYNC_HOME": str(home), "BORDERSYNC_DEV_BROKER_PORT": str(bport),
            "BORDERSYNC_DEV_REDIS_PORT": str(rport)}
    atexit.register(stack.down, base)
    done = subprocess.run([str(BIN), "dev", "up", "--secure"], env=env, capture_output=True,
                          text=True, timeout=300)
    try:
        assert done.returncode == 0, done.stderr
        fields = dict(part.split("=", 1) for part in done.stdout.split())
        assert set(fields) == {"bootstrap", "redis", "secrets"}, done.stdout
        secure = SecureStack(base, Path(fields["secrets"]), fields["bootstrap"], rport)
        # The other prefixes' topics and ACLs (the first's came with `dev up`).
        border = load_border_config()
        for prefix in PREFIXES[1:]:
            create_topics(secure.as_(acl.ADMIN, prefix))
        wanted = [r for prefix in PREFIXES for r in acl.rules(border, prefix)]
        acl.sync(admin_client(secure.properties(acl.ADMIN)), wanted,
                 [p.name for p in acl.principals(border)])
        # Redis users are per tenant prefix: each agency's user reaches its key prefix under
        # every test prefix (one Redis serving several deployments), kept in the ACL file so a
        # later `credentials rotate --apply` (ACL LOAD) keeps them.
        CredentialStore(secure.secrets).set_tenants(border, PREFIXES)
        redis_admin: Any = redis.Redis.from_url(secure.redis_url(acl.ADMIN))
        redis_admin.execute_command("ACL", "LOAD")
        yield secure
    finally:
        stack.down(base)
