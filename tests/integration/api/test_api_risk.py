"""The risk assessments (docs/risk.md) through the live API and the lookup CLI: the Redis reader
reads the vehicle's risk hash, the view keeps the latest journey's assessments per crossing, the
list of vehicles on their way carries each one's pre-arrival channel."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bordersync.settings import Settings
from tests.conftest import Proc, run_cli
from tests.integration.api.support import AGENCY, CTX, call, risk, seed, start_api, token
from tooling.bench.consumers import journey


def test_vehicle_view_enroute_and_lookup_carry_the_risk_assessments(
        api_settings: Settings, spawn: Callable[..., Proc]) -> None:
    now = datetime.now(UTC)
    last_week, arrived, on_way = (now - timedelta(days=2), now - timedelta(hours=1),
                                  now - timedelta(minutes=5))
    seed(api_settings, [
        # An earlier journey of the same truck (its assessments are no longer shown) ...
        *journey(CTX, "SK1234AB", "old", last_week),
        risk(CTX, "SK1234AB", "old", last_week, channel="GREEN", operator="MK-AEO-17"),
        # ... the latest one: RED before arrival, our own YELLOW at entry.
        *journey(CTX, "SK1234AB", "a1", arrived),
        risk(CTX, "SK1234AB", "a1", arrived),
        risk(CTX, "SK1234AB", "a1", arrived, stage="ENTRY", channel="YELLOW",
             summary="documents: declaration check"),
        *journey(CTX, "BT555XY", "e1", on_way, arrived=False),
        risk(CTX, "BT555XY", "e1", on_way),
    ])
    api = start_api(api_settings, spawn)
    bearer = token(api_settings)
    got = call(f"{api.base}/v1/vehicles/sk-1234-ab", bearer)
    assert got.status == 200, got.body
    rows = [(r["stage"], r["channel"], r["perspective"], r["en_route"]) for r in got.body["risk"]]
    assert rows == [("PRE_ARRIVAL", "RED", "pre_arrival_from_other_side", False),
                    ("ENTRY", "YELLOW", "own_at_entry", False)]
    pre = got.body["risk"][0]
    assert [(h["profile_id"], h["profile_version"], h["owner"]) for h in pre["hits"]] == [
        ("watch", 2, "MK"), ("unsealed-declared-truck", 1, "AL")]
    assert pre["summary"].startswith("physical control: trailer on the MK watchlist")
    got = call(f"{api.base}/v1/vehicles/BT555XY", bearer)
    (pre,) = got.body["risk"]
    assert got.body["status"] == "en_route" and pre["en_route"] is True
    assert pre["expected_arrival"] is not None
    page = call(f"{api.base}/v1/enroute", bearer)
    assert {v["plate"]: v["risk_channel"] for v in page.body["vehicles"]} == {"BT555XY": "RED"}
    # The lookup CLI prints the channel line; --json stays a superset of the API's view.
    done = run_cli(["lookup", "--plate", "bt 555 xy", "--agency", AGENCY], api_settings)
    assert done.returncode == 0, done.stderr
    assert "risk: RED  score 100  (pre-arrival assessment by MK, " in done.stdout
    assert "  - trailer on the MK watchlist  [watch@2, owner MK]" in done.stdout
    assert "expected " in done.stdout
    done = run_cli(["lookup", "--plate", "BT555XY", "--agency", AGENCY, "--json"], api_settings)
    assert json.loads(done.stdout)["risk"] == got.body["risk"]
