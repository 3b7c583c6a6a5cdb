"""``bordersync credentials`` and ``bordersync acls``: operators' commands, not a role's.

    bordersync credentials generate [--dir D] [--bootstrap B] [--ca PATH] [--redis URL] [--mount M]
        (--redis: where the agencies' read models live, written into their .env with their user)
    bordersync credentials rotate --principal NAME [--dir D] [--apply]
    bordersync credentials list [--dir D]
    bordersync acls apply|show        (as admin: BORDERSYNC_CLIENT_PROPERTIES=D/admin.properties)

``generate`` never overwrites a credential; ``rotate`` replaces one password and with ``--apply``
registers it on the cluster (as ``D/admin.properties``) and reloads Redis's ACL file, so the old
password stops working at once.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bordersync.output import add_output, emit, json_line
from bordersync.settings import Settings

if TYPE_CHECKING:
    from bordersync.cliapi import AddCommand
    from bordersync.security.credentials import CredentialStore


def _dir(args: argparse.Namespace, settings: Settings) -> Path:
    return Path(args.dir) if args.dir else settings.home / "secrets"


def cmd_credentials(args: argparse.Namespace, settings: Settings) -> int:
    from bordersync.border import load_border_config
    from bordersync.security import acl
    from bordersync.security.credentials import CredentialStore, admin_client, register_scram

    border = load_border_config(settings.border_config)
    store = CredentialStore(_dir(args, settings))
    if args.action == "generate":
        bootstrap = settings.bootstrap
        ca = args.ca or settings.ssl_ca_location
        if not bootstrap or not ca:
            print("bordersync: credentials generate needs --bootstrap and --ca (or "
                  "BORDERSYNC_BOOTSTRAP / BORDERSYNC_SSL_CA_LOCATION)", file=sys.stderr)
            return 2
        emit(({"action": "created", "principal": name, "path": str(store.path(name))}
              for name in store.generate(border, bootstrap, ca, settings.topic_prefix,
                                         redis_url=settings.redis_url, mount=args.mount)),
             args.output, lambda r: f"created {r['path']}")
        return 0
    if args.action == "list":
        emit(({"principal": p.name, "role": p.role,
               "state": "present" if store.path(p.name).exists() else "missing",
               "path": str(store.path(p.name))} for p in acl.principals(border)),
             args.output, lambda r: f"{r['principal']:28} {r['role']:16} {r['state']:8} {r['path']}")
        return 0
    if not args.principal:
        print("bordersync: credentials rotate needs --principal", file=sys.stderr)
        return 2
    old_admin = store.path(acl.ADMIN).read_text() if store.path(acl.ADMIN).exists() else None
    try:
        password = store.rotate(border, args.principal)
    except KeyError as exc:
        print(f"bordersync: {exc.args[0]}", file=sys.stderr)
        return 2
    say = _sayer(args.output)
    say({"action": "rotated", "principal": args.principal,
         "path": str(store.path(args.principal))}, f"rotated {store.path(args.principal)}")
    if args.apply:
        # Authenticate with the admin credential as the cluster knows it (the old one when the
        # admin itself is being rotated).
        admin_props = store.directory / ".admin-current.properties"
        if old_admin is not None:
            from bordersync.security.secretfile import write_secret

            write_secret(admin_props, old_admin.encode())
        try:
            register_scram(admin_client(admin_props if old_admin else store.path(acl.ADMIN)),
                           {args.principal: password})
        finally:
            admin_props.unlink(missing_ok=True)
        say({"action": "registered", "principal": args.principal},
            f"registered the new SCRAM credential of {args.principal}")
        if _reload_redis(store):
            say({"action": "reloaded", "what": "redis-acl"}, "reloaded Redis ACL users")
    return 0


def _sayer(output: str | None) -> Callable[[dict[str, Any], str], None]:
    """One step of an action: a JSON line with ``-o json``, else its sentence."""
    def say(record: dict[str, Any], text: str) -> None:
        print(json_line(record) if output == "json" else text, flush=True)
    return say


def _reload_redis(store: CredentialStore) -> bool:
    """``ACL LOAD`` on the stack's Redis as admin, when this directory has an admin Redis URL."""
    from bordersync.endpoints import read_properties

    env = store.directory / "admin.env"
    if not env.exists():
        return False
    import redis

    url = read_properties(env).get("BORDERSYNC_REDIS_URL")
    if not url:
        return False
    client: Any = redis.Redis.from_url(url, socket_timeout=5)
    client.execute_command("ACL", "LOAD")
    return True


def cmd_acls(args: argparse.Namespace, settings: Settings) -> int:
    from confluent_kafka.admin import AdminClient

    from bordersync.border import load_border_config
    from bordersync.kafka import admin_conf
    from bordersync.security import acl

    border = load_border_config(settings.border_config)
    if args.action == "show":
        if args.output == "json":  # a line per ALLOW binding; the table is per principal
            emit((asdict(r) for r in acl.rules(border, settings.topic_prefix)), "json", str)
        else:
            print(acl.markdown_table(border, settings.topic_prefix), end="")
        return 0
    created, deleted = acl.sync(AdminClient(admin_conf(settings)),
                                acl.rules(border, settings.topic_prefix),
                                [p.name for p in acl.principals(border)])
    emit([*({"action": "created", **asdict(r)} for r in created),
          *({"action": "deleted", **asdict(r)} for r in deleted)], args.output,
         lambda r: f"{r['action']} {acl.Rule(**{k: v for k, v in r.items() if k != 'action'})}")
    print(f"# {len(created)} created, {len(deleted)} deleted", file=sys.stderr)
    return 0


def register(add: AddCommand) -> None:
    p = add("credentials", cmd_credentials,
            "one Kafka (SCRAM) and Redis credential per principal: generate, rotate, list")
    p.add_argument("action", choices=["generate", "rotate", "list"])
    p.add_argument("--dir", help="credentials directory (default $BORDERSYNC_HOME/secrets)")
    p.add_argument("--ca", help="generate: ssl.ca.location written into the files")
    p.add_argument("--mount", help="generate: the properties file's path as processes see it, "
                                   "{principal} replaced (containers)")
    p.add_argument("--principal", help="rotate: the principal (see `credentials list`)")
    p.add_argument("--apply", action="store_true",
                   help="rotate: register the new password on the cluster (as DIR/admin."
                        "properties) and reload Redis's ACL file")
    add_output(p, "generate/rotate: a line per step; list: a line per principal")
    p = add("acls", cmd_acls, "the generated ACLs: show them, or apply them (as admin)")
    p.add_argument("action", choices=["show", "apply"])
    add_output(p, "show: the markdown table (json: a line per ALLOW binding); apply: a line per "
                  "created or deleted binding")
