"""``dev up --secure``: the local Kafka with TLS + SASL/SCRAM listeners only, principals and ACLs.

What changes against the plain dev stack (``tooling.stack`` calls these at the right steps):

- **TLS**: a private CA made at first start with ``cryptography`` (``tooling.tlsca``), the
  brokers' PEM keystore, every key 0600 in ``$home/secrets`` (0700).
- **Listeners**: ``SASL_SSL`` for clients and between brokers (SCRAM-SHA-512), and the KRaft
  ``CONTROLLER`` listener on mutual TLS (SCRAM cannot authenticate controllers: their users live
  in the metadata they serve); no plaintext port at all.
- **Principals**: ``admin`` is created at format time (``StorageTool format --add-scram``), the
  only way a KRaft cluster gets a user before any SASL listener accepts one; every other
  principal (``bordersync.security.acl.principals``) is registered with AlterUserScramCredentials once the
  brokers are up. Each has its own password, in ``$home/secrets/<principal>.properties``.
- **Authorisation**: ``StandardAuthorizer``, deny when no ACL matches, ``admin`` and the
  brokers' certificate are super users; the ACLs of ``bordersync.security.acl.rules`` are synced.
- **Redis**: started with an ACL file (``default`` off; ``admin``; one user per agency limited
  to its key prefix).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bordersync.border import load_border_config
from bordersync.endpoints import read_properties
from bordersync.security.acl import ADMIN, principals, rules, sync
from bordersync.security.credentials import (
    MECHANISM,
    REDIS_ACL_FILE,
    CredentialStore,
    admin_client,
    register_scram,
)
from bordersync.settings import Settings
from tooling.devbroker import Cluster
from tooling.tlsca import BROKER_CN, TlsFiles, ensure_tls

STANDARD_AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"


def secrets_dir(home: Path) -> Path:
    return home / "secrets"


def store(home: Path) -> CredentialStore:
    return CredentialStore(secrets_dir(home))


def prepare(settings: Settings, home: Path, cluster: Cluster) -> TlsFiles:
    """TLS material and one credential per principal (kept across ``down``/``up``)."""
    secrets = secrets_dir(home)
    secrets.mkdir(parents=True, exist_ok=True)
    secrets.chmod(0o700)
    tls = ensure_tls(secrets / "tls")
    store(home).generate(load_border_config(settings.border_config), cluster.bootstrap,
                         str(tls.ca), settings.topic_prefix,
                         redis_url=f"redis://127.0.0.1:{settings.dev_redis_port}/0")
    return tls


def node_overrides(home: Path, tls: TlsFiles, node_port: int, controller_port: int
                   ) -> dict[str, str]:
    """``server.properties`` entries of a secured node (on top of the plain node's)."""
    password = store(home).password(ADMIN)
    jaas = ("org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{ADMIN}" password="{password}";')
    return {
        "listeners": f"SASL_SSL://127.0.0.1:{node_port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"SASL_SSL://127.0.0.1:{node_port}",
        "inter.broker.listener.name": "SASL_SSL",
        "listener.security.protocol.map": "SASL_SSL:SASL_SSL,CONTROLLER:SSL",
        "sasl.enabled.mechanisms": MECHANISM,
        "sasl.mechanism.inter.broker.protocol": MECHANISM,
        "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": jaas,
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(tls.broker),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(tls.ca),
        "ssl.endpoint.identification.algorithm": "https",
        "listener.name.controller.ssl.client.auth": "required",
        "authorizer.class.name": STANDARD_AUTHORIZER,
        "allow.everyone.if.no.acl.found": "false",
        "super.users": f"User:{ADMIN};User:CN={BROKER_CN}",
    }


def format_args(home: Path) -> list[str]:
    """The first super user, written into the metadata log by ``StorageTool format``."""
    return ["--add-scram", f"{MECHANISM}=[name={ADMIN},password={store(home).password(ADMIN)}]"]


def admin_properties(home: Path) -> Path:
    return store(home).path(ADMIN)


def admin_conf(home: Path) -> dict[str, Any]:
    return {**read_properties(admin_properties(home)), "log_level": 0}


def redis_args(home: Path) -> list[str]:
    return ["--aclfile", str(secrets_dir(home) / REDIS_ACL_FILE)]


def redis_admin_url(home: Path, port: int) -> str:
    return f"redis://{ADMIN}:{store(home).password(ADMIN)}@127.0.0.1:{port}/0"


def provision(settings: Settings, home: Path) -> list[str]:
    """Every non-admin principal's SCRAM credential, then the ACLs (idempotent)."""
    border = load_border_config(settings.border_config)
    creds = store(home)
    admin = admin_client(admin_properties(home))
    users = {p.name: creds.password(p.name) for p in principals(border) if p.name != ADMIN}
    register_scram(admin, users)
    created, deleted = sync(admin, rules(border, settings.topic_prefix),
                            [p.name for p in principals(border)])
    return [f"{len(users)} SCRAM users", f"ACLs: {len(created)} created, {len(deleted)} removed"]
