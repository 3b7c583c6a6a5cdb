"""``bordersync keys``: signing keys per administration and the trust file shared with partners."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bordersync.output import add_output, emit, json_line
from bordersync.settings import Settings

if TYPE_CHECKING:
    from bordersync.cliapi import AddCommand


def _state(key_not_after: datetime | None, revoked: bool, now: datetime) -> str:
    if revoked:
        return "revoked"
    if key_not_after is None:
        return "active"
    return "expired" if now >= key_not_after else "retiring"


def _key_line(row: dict[str, Any]) -> str:
    private = "private" if row["private_key"] else "public-only"
    return f"{row['kid']:32} {row['state']:9} {private:12} until {row['not_after'] or '-'}"


def _done(args: argparse.Namespace, action: str, key: dict[str, Any]) -> None:
    """The key an action made or revoked: its kid alone by default (scripts capture it with
    ``$(...)``), the whole key as one JSON line with ``-o json``."""
    print(json_line({"action": action, **key}) if args.output == "json" else key["kid"])


def cmd_keys(args: argparse.Namespace, settings: Settings) -> int:
    from bordersync.security.keys import KeyStore, KeyStoreError
    from bordersync.security.signing import TrustStore

    store = KeyStore.from_settings(settings)
    now = datetime.now(UTC)
    try:
        if args.action in ("generate", "rotate"):
            if not args.admin:
                print(f"bordersync: keys {args.action} needs --admin", file=sys.stderr)
                return 2
            if args.action == "generate":
                key = store.generate(args.admin.upper(), now)
            else:
                overlap = timedelta(seconds=settings.key_overlap_seconds)
                key = store.rotate(args.admin.upper(), overlap, now)
            _done(args, f"{args.action}d", key.to_json())
            print(f"# share {store.trust_file} with partners before records signed by "
                  f"{key.kid} reach them", file=sys.stderr)
        elif args.action == "revoke":
            if not args.kid:
                print("bordersync: keys revoke needs --kid", file=sys.stderr)
                return 2
            _done(args, "revoked", store.revoke(args.kid).to_json())
        elif args.action == "export":
            # The trust file to hand to partners: indented, or on one line with -o json.
            print(json.dumps(store.trust().to_json(), indent=None if args.output == "json" else 2))
        elif args.action == "import":
            if not args.file or not args.admin:
                print("bordersync: keys import needs --file and --admin (the one administration "
                      "whose keys the file is trusted for)", file=sys.stderr)
                return 2
            other = TrustStore.from_json(json.loads(Path(args.file).read_text()))
            emit(({"kid": kid, "result": "updated"}
                  for kid in store.import_trust(other, args.admin.upper())),
                 args.output, lambda r: f"updated {r['kid']}")
            for kid, why in store.refused:
                if args.output == "json":
                    print(json_line({"kid": kid, "result": "refused", "reason": why}))
                print(f"refused {kid}: {why}", file=sys.stderr)
        else:
            rows = [
                {**k.to_json(), "state": _state(k.not_after, k.revoked, now),
                 "private_key": store.has_private(k.kid)}
                for k in sorted(store.trust().keys.values(), key=lambda k: (k.admin, k.not_before))
            ]
            if args.json:  # the contract's indented array
                print(json.dumps(rows, indent=2))
            else:
                emit(rows, args.output, _key_line)
    except (KeyStoreError, ValueError, OSError) as exc:
        print(f"bordersync: {exc}", file=sys.stderr)
        return 1
    return 0


def register(add: AddCommand) -> None:
    p = add("keys", cmd_keys, "signing keys per administration and the partner trust file")
    p.add_argument("action", choices=["generate", "list", "rotate", "revoke", "export", "import"])
    p.add_argument("--admin", help="administration (ISO 3166-1 alpha-2, or BORDERSYNC), for "
                                   "generate / rotate, and import: only its keys are taken")
    p.add_argument("--kid", help="key id ADMIN:KEY-ID, for revoke")
    p.add_argument("--file", help="a partner's trust file, for import")
    p.add_argument("--json", action="store_true", help="list: one indented JSON array")
    add_output(p, "list: a line per key; generate/rotate/revoke: the kid; import: a line per "
                  "updated key")
