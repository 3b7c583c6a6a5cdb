"""``bordersync risk``: profiles (list, propose, sign, retire), lists (import), report.

    bordersync risk profiles propose --admin MK --file profile.json
    bordersync risk profiles sign --admin AL --id unsealed-truck --version 1
    bordersync risk profiles list [--json]
    bordersync risk profiles retire --admin AL --id unsealed-truck --version 1
    bordersync risk lists import --admin MK --kind watchlist --file plates.txt [--valid-days 30]
    bordersync risk lists import --admin MK --kind aeo --file operators.json --recognises AL
    bordersync risk report [--json]

Signing uses the administration's active key on this host (``bordersync keys``). Every action
takes ``-o json|table`` (docs/cli.md): a JSON line per profile, or one for the report or for what an
action wrote.
"""

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


def _fail(message: str) -> int:
    print(f"bordersync: {message}", file=sys.stderr)
    return 2


def _done(args: argparse.Namespace, record: dict[str, Any], text: str) -> None:
    """What an action did: one JSON line with ``-o json`` (scripts read the key it wrote), else
    the sentence."""
    print(json_line(record) if args.output == "json" else text, flush=True)


def _signer(settings: Settings, admin: str | None) -> Any:
    from bordersync.security.keys import KeyStore

    if not admin:
        raise SystemExit("bordersync: this action signs: give --admin")
    return KeyStore.from_settings(settings).signer(admin.upper())


def _unknown_crossings(doc: Any, settings: Settings) -> str | None:
    """A profile that names no crossing between its parties would never apply: refuse it."""
    from bordersync.border import load_border_config

    border = load_border_config(settings.border_config)
    parties = set(doc.get("parties") or []) if isinstance(doc, dict) else set()
    between = {c.id for c in border.crossings if set(c.sides) == parties}
    named = doc.get("crossings") or [] if isinstance(doc, dict) else []
    if not between:
        return f"profile {doc.get('id')!r}: no crossing between {sorted(parties)}"
    unknown = sorted(set(map(str, named)) - between)
    if unknown:
        return f"profile {doc.get('id')!r}: crossings {unknown} are not between {sorted(parties)}"
    return None


def cmd_profiles(args: argparse.Namespace, settings: Settings) -> int:
    from bordersync.security.keys import KeyStore, KeyStoreError
    from streams.risk import feed
    from streams.risk.profiles import ProfileBook, ProfileError, countersign, propose

    now = datetime.now(UTC)
    try:
        if args.action == "propose":
            if not args.file:
                return _fail("risk profiles propose needs --file")
            doc = json.loads(Path(args.file).read_text("utf-8"))
            problem = _unknown_crossings(doc, settings)
            if problem:
                return _fail(problem)
            record = propose(doc, _signer(settings, args.admin))
            key = f"{doc['id']}@{doc['version']}"
            feed.publish(settings, feed.PROFILES, key, json.dumps(record).encode())
            _done(args, {"action": "proposed", "key": key, "admin": args.admin.upper()},
                  f"proposed {key}, signed by {args.admin.upper()}; needs the other party's "
                  "`risk profiles sign`")
            return 0
        records = feed.read_topic(settings, feed.PROFILES)
        book = ProfileBook()
        for k, v in records.items():
            book.apply(k, v)
        statuses = book.evaluate(KeyStore.from_settings(settings).trust(), now)
        if args.action == "list":
            rows = [{"key": s.key, "state": s.state, "detail": s.detail,
                     **({"channel": s.profile.channel, "weight": s.profile.weight,
                         "rule": s.profile.rule, "owner": s.profile.owner} if s.profile else {})}
                    for s in statuses]
            if args.json:  # the contract's JSON array
                print(json.dumps(rows, ensure_ascii=False))
            else:
                emit(rows, args.output, lambda r: f"{r['key']:32} {r['state']:14} {r['detail']}")
            return 0
        if not args.id:
            return _fail(f"risk profiles {args.action} needs --id")
        versions = sorted((s.profile.version for s in statuses
                           if s.profile is not None and s.profile.id == args.id), reverse=True)
        version = args.version or (versions[0] if versions else None)
        key = f"{args.id}@{version}"
        if key not in records:
            return _fail(f"no profile {key} on {settings.topic(feed.PROFILES)}")
        record = countersign(json.loads(records[key]), _signer(settings, args.admin),
                             retire=args.action == "retire")
        feed.publish(settings, feed.PROFILES, key, json.dumps(record).encode())
        done = "retired" if args.action == "retire" else "signed"
        _done(args, {"action": done, "key": key, "admin": args.admin.upper()},
              f"{done} {key} as {args.admin.upper()}")
        return 0
    except (ProfileError, KeyStoreError, ValueError, KeyError) as exc:
        return _fail(str(exc))


def cmd_lists(args: argparse.Namespace, settings: Settings) -> int:
    from bordersync.security.keys import KeyStoreError
    from streams.risk import feed
    from streams.risk.lists import aeo_doc, list_key, signed_list, watchlist_doc

    if args.action != "import" or not args.file or not args.kind or not args.admin:
        return _fail("risk lists import needs --admin, --kind and --file")
    admin = args.admin.upper()
    now = datetime.now(UTC)
    until = now + timedelta(days=args.valid_days)
    text = Path(args.file).read_text("utf-8")
    try:
        if args.kind == "watchlist":
            idents = [line.strip() for line in text.splitlines()
                      if line.strip() and not line.startswith("#")]
            doc = watchlist_doc(admin, feed.watch_key(settings, admin), idents, now, until)
            size = len(doc["entries"])
        else:
            recognises = [a.strip().upper() for a in (args.recognises or "").split(",") if a.strip()]
            doc = aeo_doc(admin, json.loads(text), recognises, now, until)
            size = len(doc["operators"])
        record = signed_list(doc, _signer(settings, admin))
    except (KeyStoreError, ValueError, KeyError, TypeError) as exc:
        return _fail(f"{args.file}: {exc}")
    feed.publish(settings, feed.LISTS, list_key(doc), json.dumps(record).encode())
    _done(args, {"action": "published", "key": list_key(doc), "kind": args.kind, "entries": size,
                 "valid_until": until},
          f"published {list_key(doc)}: {size} entries, valid until {until.isoformat()}")
    return 0


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    from bordersync.border import load_border_config
    from bordersync.tail import records
    from streams.risk.report import hit_rates, render

    border = load_border_config(settings.border_config)
    assessments = list(records(settings, "risk", True, args.idle_timeout))
    inspections = list(records(settings, "inspections", True, args.idle_timeout))
    windows = {c.id: c.window_minutes * 60.0 for c in border.crossings}
    report = hit_rates(assessments, inspections, windows)
    if args.json:  # the contract's form, = -o json
        print(json.dumps(report.as_dict()))
    else:
        emit([report.as_dict()], args.output, lambda _row: render(report))
    return 0


def cmd_risk(args: argparse.Namespace, settings: Settings) -> int:
    handler = {"profiles": cmd_profiles, "lists": cmd_lists, "report": cmd_report}[args.area]
    return handler(args, settings)


def register(add: AddCommand) -> None:
    p = add("risk", cmd_risk, "joint risk profiles, watchlists, AEO lists and hit rates")
    p.add_argument("area", choices=["profiles", "lists", "report"])
    p.add_argument("action", nargs="?", default="list",
                   choices=["list", "propose", "sign", "retire", "import"])
    p.add_argument("--admin", help="administration that signs (its key on this host)")
    p.add_argument("--file", help="profile JSON / watchlist lines / AEO operators JSON")
    p.add_argument("--id", help="profile id")
    p.add_argument("--version", type=int, help="profile version (default: the highest)")
    p.add_argument("--kind", choices=["watchlist", "aeo"])
    p.add_argument("--recognises", help="AEO programmes this list recognises, e.g. AL,RS")
    p.add_argument("--valid-days", type=int, default=30)
    p.add_argument("--json", action="store_true",
                   help="profiles list: one JSON array; report: one JSON object (contract forms)")
    add_output(p, "one readable line per profile, the report's lines, or what an action did")
    p.add_argument("--idle-timeout", type=float, default=3.0)
