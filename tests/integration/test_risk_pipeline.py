"""Joint risk management end to end: both sides sign a profile with `bordersync risk profiles`,
MK imports a watchlist (keyed hashes), the worker hot-reloads them; an EXIT typed in Cyrillic
with hyphens hits the watchlist and its pre-arrival `risk` record reaches AL customs' share
before the ENTRY is even published; AL's share never carries the list. `risk report` joins the
assessments to inspections."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bordersync.settings import Settings
from bordersync.wire import codec
from tests.conftest import Proc, run_cli, wait_for
from tests.helpers import crossing, inspection
from tests.integration.streams_support import read_to_end

NOW = datetime.now(UTC)


def cli(args: list[str], settings: Settings) -> str:
    done = run_cli(args, settings)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


def publish(settings: Settings, tmp_path: Path, *events: dict[str, Any]) -> None:
    path = tmp_path / f"{events[0]['event_id']}.jsonl"
    path.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events), "utf-8")
    cli(["publish", "--file", str(path)], settings)


def shared_risk(settings: Settings, agency: str) -> list[dict[str, Any]]:
    out = []
    for msg in read_to_end(settings, settings.topic(f"share.{agency}")):
        value = codec.decode("share", msg.value())
        if isinstance(value, dict) and value["stream"] == "risk":
            out.append(value["record"])
    return out


def raw_share_bytes(settings: Settings, agency: str) -> bytes:
    return b"".join(m.value() or b"" for m in read_to_end(settings,
                                                           settings.topic(f"share.{agency}")))


def profile_file(tmp_path: Path, id_: str, rule: dict[str, Any], channel: str) -> str:
    doc = {"id": id_, "version": 1, "parties": ["MK", "AL"], "owner": "MK", "rule": rule,
           "channel": channel, "weight": 100 if channel == "RED" else 40,
           "valid_from": (NOW - timedelta(days=1)).isoformat(),
           "valid_until": (NOW + timedelta(days=30)).isoformat()}
    path = tmp_path / f"{id_}.json"
    path.write_text(json.dumps(doc))
    return str(path)


def test_signed_profiles_watchlist_and_pre_arrival_sharing(
    make_settings: Callable[..., Settings], spawn: Callable[..., Proc], tmp_path: Path
) -> None:
    settings = make_settings(risk_enabled=True)
    cli(["keys", "generate", "--admin", "MK"], settings)
    cli(["keys", "generate", "--admin", "AL"], settings)
    watch = profile_file(tmp_path, "watch", {"kind": "watchlist"}, "RED")
    cli(["risk", "profiles", "propose", "--admin", "MK", "--file", watch], settings)
    listed = json.loads(cli(["risk", "profiles", "list", "--json"], settings))
    assert [(r["key"], r["state"]) for r in listed] == [("watch@1", "pending")]
    cli(["risk", "profiles", "sign", "--admin", "AL", "--id", "watch"], settings)
    listed = json.loads(cli(["risk", "profiles", "list", "--json"], settings))
    assert [(r["key"], r["state"]) for r in listed] == [("watch@1", "active")]
    plates = tmp_path / "mk-watch.txt"
    plates.write_text("SK 1234 AB\nOT 999 ZZ\n")
    cli(["risk", "lists", "import", "--admin", "MK", "--kind", "watchlist", "--file",
         str(plates)], settings)

    worker = spawn(["streams", "worker"], settings)
    t_exit = NOW - timedelta(minutes=20)
    publish(settings, tmp_path, crossing(
        event_id="mk-exit-1", plate="ЅК-1234-АВ", seals=["S1"], event_time=t_exit.isoformat()))
    found: list[dict[str, Any]] = []

    def arrived() -> bool:
        found[:] = shared_risk(settings, "al-customs")
        return bool(found)

    wait_for(arrived, 120, f"a risk record on share.al-customs ({worker.output()[-2000:]})")
    (pre,) = found
    assert (pre["stage"], pre["channel"], pre["plate"]) == ("PRE_ARRIVAL", "RED", "SK1234AB")
    assert pre["hits"][0]["reason"] == "plate on the MK watchlist"
    assert pre["assessed_for"] == "AL" and pre["expected_arrival"] > pre["event_time"]
    shared = raw_share_bytes(settings, "al-customs")
    assert b"OT999ZZ" not in shared and b"OT 999 ZZ" not in shared
    lists = read_to_end(settings, settings.topic("risk-lists"))
    for digest in json.loads(lists[0].value())["list"]["entries"]:
        assert digest.encode() not in shared

    # Hot reload: a second profile signed while the worker runs applies to the next vehicle.
    unsealed = profile_file(tmp_path, "unsealed", {"kind": "cargo_unsealed", "declared": False},
                            "YELLOW")
    cli(["risk", "profiles", "propose", "--admin", "AL", "--file", unsealed], settings)
    cli(["risk", "profiles", "sign", "--admin", "MK", "--id", "unsealed"], settings)

    def second() -> bool:
        publish(settings, tmp_path, crossing(
            event_id=f"mk-exit-{len(found) + 2}", plate=f"SK {len(found) + 2:04d} ZZ",
            event_time=(t_exit + timedelta(seconds=len(found))).isoformat()))
        found[:] = shared_risk(settings, "al-customs")
        return any(r["channel"] == "YELLOW" for r in found)

    wait_for(second, 60, "the hot-reloaded profile to apply")

    publish(settings, tmp_path,
            crossing(event_id="al-entry-1", admin="AL", post="ALQTH01", direction="ENTRY",
                     plate="SK 1234 AB", seals=["S1"],
                     event_time=(t_exit + timedelta(minutes=8)).isoformat()),
            inspection(event_id="al-insp-1", admin="AL", post="ALQTH01", plate="SK1234AB",
                       inspection_type="PHYSICAL", result="SEIZED",
                       event_time=(t_exit + timedelta(minutes=15)).isoformat()))
    wait_for(lambda: any(r["stage"] == "ENTRY" for r in shared_risk(settings, "al-customs")),
             60, "the entry side's own assessment")
    report = json.loads(cli(["risk", "report", "--json", "--idle-timeout", "2"], settings))
    assert report["channels"]["RED"] == {"assessed": 1, "inspected": 1, "positive": 1,
                                         "hit_rate": 1.0}
    assert report["rules"]["watch"]["hit_rate"] == 1.0

    # AEO lists of both sides recognising each other: a fleet truck gets the green lane.
    for admin, other, ops in (("MK", "AL", [{"id": "MKAEO0001", "plates": ["SK 7777 GG"]}]),
                              ("AL", "MK", [])):
        path = tmp_path / f"{admin}-aeo.json"
        path.write_text(json.dumps(ops))
        cli(["risk", "lists", "import", "--admin", admin, "--kind", "aeo", "--file", str(path),
             "--recognises", other], settings)

    def green() -> bool:
        publish(settings, tmp_path, crossing(
            event_id=f"mk-aeo-{len(found)}", plate="SK 7777 GG", seals=["S7"],
            event_time=(t_exit + timedelta(minutes=1, seconds=len(found))).isoformat()))
        found[:] = shared_risk(settings, "al-customs")
        return any(r["channel"] == "GREEN" and r["operator"] == "MKAEO0001" for r in found)

    wait_for(green, 60, "the AEO truck in the green lane")
    cli(["risk", "profiles", "retire", "--admin", "AL", "--id", "watch"], settings)
    states = {r["key"]: r["state"] for r in json.loads(cli(["risk", "profiles", "list", "--json"],
                                                          settings))}
    assert states == {"watch@1": "retired", "unsealed@1": "active"}
