"""``bordersync keys``: signing keys per administration and the trust file shared with partners."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from bordersync.settings import Settings

if TYPE_CHECKING:
    from bordersync.cliapi import AddCommand


def _state(key_not_after: datetime | None, revoked: bool, now: datetime) -> str:
    if revoked:
        return "revoked"
    if key_not_after is None:
        return "active"
    return "expired" if now >= key_not_after else "retiring"


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
            print(key.kid)
            print(f"# share {store.trust_file} with partners before records signed by "
                  f"{key.kid} reach them", file=sys.stderr)
        elif args.action == "revoke":
            if not args.kid:
                print("bordersync: keys revoke needs --kid", file=sys.stderr)
                return 2
            print(store.revoke(args.kid).kid)
        elif args.action == "export":
            print(json.dumps(store.trust().to_json(), indent=2))
        elif args.action == "import":
            if not args.file or not args.admin:
                print("bordersync: keys import needs --file and --admin (the one administration "
                      "whose keys the file is trusted for)", file=sys.stderr)
                return 2
            other = TrustStore.from_json(json.loads(Path(args.file).read_text()))
            for kid in store.import_trust(other, args.admin.upper()):
                print(f"updated {kid}")
            for kid, why in store.refused:
                print(f"refused {kid}: {why}", file=sys.stderr)
        else:
            rows = [
                {**k.to_json(), "state": _state(k.not_after, k.revoked, now),
                 "private_key": store.has_private(k.kid)}
                for k in sorted(store.trust().keys.values(), key=lambda k: (k.admin, k.not_before))
            ]
            if args.json:
                print(json.dumps(rows, indent=2))
            for row in [] if args.json else rows:
                private = "private" if row["private_key"] else "public-only"
                print(f"{row['kid']:32} {row['state']:9} {private:12} until {row['not_after'] or '-'}")
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
    p.add_argument("--json", action="store_true", help="list as JSON")
