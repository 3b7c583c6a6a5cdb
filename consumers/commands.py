"""CLI commands of partner agencies: consume, lookup, api (issue 6)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from bordersync.cliapi import AddCommand
from bordersync.output import add_output, emit
from bordersync.settings import Settings


def resolve_agency(settings: Settings, name: str | None) -> str | None:
    """``--agency``, else ``BORDERSYNC_AGENCY``, else the first agency of the border config.

    Prints a clear error listing the known agencies and returns None when the name is unknown.
    """
    from bordersync.border import load_border_config

    border = load_border_config(settings.border_config)
    chosen = name or settings.agency or border.agencies[0].name
    try:
        border.agency(chosen)
    except KeyError as exc:
        print(f"bordersync: {exc.args[0]}", file=sys.stderr)
        return None
    return chosen


def cmd_consume(args: argparse.Namespace, settings: Settings) -> int:
    agency = resolve_agency(settings, args.agency)
    if agency is None:
        return 2
    from consumers.runner import run

    return run(settings, agency, rebuild=args.rebuild)


def cmd_lookup(args: argparse.Namespace, settings: Settings) -> int:
    agency = resolve_agency(settings, args.agency)
    if agency is None:
        return 2
    from bordersync.plates import normalise_plate
    from consumers.api import reader_for

    plate = normalise_plate(args.plate)
    if not plate:
        print("bordersync: --plate is empty", file=sys.stderr)
        return 2
    import redis

    try:
        view = reader_for(settings, agency).vehicle(plate)
    except redis.RedisError as exc:
        print(f"bordersync: read model unavailable (Redis): {exc}", file=sys.stderr)
        return 1
    if view is None:
        if args.json or args.output == "json":
            print(json.dumps({"plate": plate, "agency": agency, "found": False}))
        print(f"no record of plate {plate} in the read model of {agency}", file=sys.stderr)
        return 1
    if args.json:  # the contract's indented document
        print(json.dumps({**view, "found": True}, ensure_ascii=False, indent=2))
    else:  # -o json: the same document on one line; table: the officer's readable view
        emit([{**view, "found": True}], args.output, render_text)
    return 0


def render_text(view: dict[str, Any]) -> str:
    lines = [f"{view['plate']}  status={view['status']}  crossing={view['crossing']}  "
             f"(agency {view['agency']})", "journey:"]
    for step in view["journey"]:
        lines.append(f"  {step.get('event_time', '?')}  {step.get('direction', '?'):5} "
                     f"{step.get('admin', '?')} {step.get('post', '')}  "
                     f"{step.get('vehicle_type', '')}")
    pair = view["latest"]["matched"]
    if pair:
        lines.append(f"matched: {pair.get('exit_admin')} -> {pair.get('entry_admin')} in "
                     f"{pair.get('transit_seconds')} s; discrepancies: "
                     f"{len(pair.get('discrepancies') or [])}")
    for r in view.get("risk") or []:
        lines.extend(risk_lines(r))
    lines.append("inspections:")
    for i in view["inspections"]:
        mark = "recognised from the other side" if i["recognised"] else "own"
        lines.append(f"  {i.get('event_time', '?')}  {i.get('admin', '?')} "
                     f"{i.get('inspection_type', '?')} {i.get('result', '?')}  ({mark})")
    lines.append("open alerts:")
    for a in view["alerts"]:
        lines.append(f"  {a.get('raised_at', '?')}  {a.get('type')}  {a.get('detail', '')}")
    return "\n".join(lines)


PERSPECTIVES = {"pre_arrival_from_other_side": "pre-arrival assessment by {admin}",
                "pre_arrival_by_our_side": "pre-arrival assessment by {admin} (our exit)",
                "own_at_entry": "our assessment at entry",
                "other_side_at_entry": "{admin}'s assessment at entry"}


def risk_lines(r: dict[str, Any]) -> list[str]:
    """The channel line of one risk assessment, then one line per profile that hit."""
    whose = PERSPECTIVES.get(str(r.get("perspective")), "{admin}").format(admin=r.get("admin"))
    line = (f"risk: {r.get('channel', '?')}  score {r.get('score', '?')}  ({whose}, "
            f"{r.get('crossing', '?')})  {r.get('summary', '')}")
    if r.get("green_lane") and r.get("operator"):
        line += f"  [AEO {r['operator']}]"
    if r.get("en_route") and r.get("expected_arrival"):
        line += f"  expected {r['expected_arrival']}"
    hits = [f"  - {h.get('reason', '?')}  [{h.get('profile_id', '?')}@"
            f"{h.get('profile_version', '?')}, owner {h.get('owner', '?')}]"
            for h in r.get("hits") or []]
    return [line, *hits]


def cmd_api(args: argparse.Namespace, settings: Settings) -> int:
    agency = resolve_agency(settings, args.agency)
    if agency is None:
        return 2
    if args.action == "token":
        from consumers.auth import SCOPE_AUDIT, SCOPE_LOOKUP, issue_dev_token

        if settings.api_jwks is not None:
            print("bordersync: BORDERSYNC_API_JWKS is set: tokens come from that issuer, not "
                  "from the dev key", file=sys.stderr)
            return 2
        scopes = (SCOPE_LOOKUP, SCOPE_AUDIT) if args.audit else (SCOPE_LOOKUP,)
        print(issue_dev_token(settings, agency, args.officer, scopes, ttl=args.ttl))
        return 0
    if args.action == "audit":
        from consumers.apicli import export_audit

        return export_audit(settings, agency, args.output or "json")
    from consumers.api import serve

    return serve(settings, agency, args.port if args.port is not None else settings.api_port)


def register(add: AddCommand) -> None:
    p = add("consume", cmd_consume, "partner agency consumer: share topic -> Redis read model")
    p.add_argument("--agency", help="agency name (see `bordersync agencies`)")
    p.add_argument("--rebuild", action="store_true",
                   help="replay the share topic from the beginning into the read model")
    p = add("lookup", cmd_lookup, "what an agency's read model knows about a vehicle")
    p.add_argument("--plate", required=True, help="any spelling: spaces, lower case, Cyrillic")
    p.add_argument("--agency", help="default: BORDERSYNC_AGENCY, else the first configured agency")
    p.add_argument("--json", action="store_true", help="one indented JSON document (the contract's form)")
    add_output(p, "the journey, risk, inspections and alerts as readable lines")
    p = add("api", cmd_api, "HTTP JSON API and officer page over an agency's read model")
    p.add_argument("action", nargs="?", choices=["serve", "token", "audit"], default="serve",
                   help="serve (default); token: print a dev token; audit: export the audit "
                        "log as JSON lines, oldest first")
    p.add_argument("--officer", default="officer", help="token: the officer's id")
    p.add_argument("--audit", action="store_true", help="token: also the 'audit' scope")
    p.add_argument("--ttl", type=int, default=12 * 3600, help="token: lifetime in seconds")
    p.add_argument("--agency", help="default: BORDERSYNC_AGENCY, else the first configured agency")
    p.add_argument("--port", type=int, help="default: BORDERSYNC_API_PORT (8088); 0 = any free")
    add_output(p, "audit: name=value pairs per entry", default="json")
