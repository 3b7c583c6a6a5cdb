"""The agency API against its OpenAPI 3.1 document: the committed copy is what the server serves,
and schemathesis drives every operation of the live server (with credentials of the agency,
of another agency, and none) with zero server errors and no answer that breaks the document.

``positive_data_acceptance`` is left out on purpose: a cursor this server never issued and a
crossing of another agency are well-formed strings by the schema but rightly refused with 400;
no JSON Schema can say which opaque cursors exist. Bounded (``-n``, one worker): ~15 s on an
idle 2-core machine.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bordersync.settings import Settings
from tests.conftest import ROOT, Proc
from tests.integration.api.support import CTX, OTHER, call, risk, seed, start_api, token
from tooling.bench.consumers import journey

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
MAX_EXAMPLES = os.environ.get("BORDERSYNC_FUZZ_EXAMPLES", "25")
SEED = os.environ.get("BORDERSYNC_FUZZ_SEED", "20261130")


def test_committed_openapi_document_is_what_the_server_serves(
        api_settings: Settings, spawn: Callable[..., Proc]) -> None:
    api = start_api(api_settings, spawn)
    served = call(api.base + "/v1/openapi.json")
    assert served.status == 200 and served.body["openapi"] == "3.1.0"
    committed = json.loads((ROOT / "docs" / "openapi.json").read_text("utf-8"))
    assert committed == served.body, "regenerate: python -m consumers.openapi > docs/openapi.json"
    assert set(served.body["paths"]) == {"/v1/openapi.json", "/v1/info", "/v1/vehicles/{plate}",
                                         "/v1/alerts", "/v1/enroute", "/v1/audit"}


def fuzz(base: str, cwd: Path, bearer: str | None, examples: str) -> tuple[int, str]:
    argv = [str(SCHEMATHESIS), "run", f"{base}/v1/openapi.json", "--checks", "all",
            "--exclude-checks", "positive_data_acceptance", "--max-examples", examples,
            "--workers", "1", "--seed", SEED, "--request-timeout", "10"]
    if bearer is not None:
        argv += ["--header", f"Authorization: Bearer {bearer}"]
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_TELEMETRY": "false"})
    output = done.stdout + done.stderr
    cases = re.search(r"(\d+) generated", output)
    assert done.returncode == 0, output[-6000:]
    assert cases is not None, output[-3000:]
    return int(cases.group(1)), output


def test_schemathesis_finds_no_server_error_and_no_answer_outside_the_document(
        api_settings: Settings, spawn: Callable[..., Proc], tmp_path: Path) -> None:
    at = datetime.now(UTC) - timedelta(minutes=30)
    seed(api_settings, [*journey(CTX, "SK1234AB", "f1", at),
                        *journey(CTX, "BT555XY", "f2", at, arrived=False),
                        risk(CTX, "SK1234AB", "f1", at),  # the example plate's assessments
                        risk(CTX, "SK1234AB", "f1", at, stage="ENTRY", channel="GREEN",
                             operator="MK-AEO-17"),
                        risk(CTX, "BT555XY", "f2", at)])
    # The fuzzer is one client sending hundreds of requests: not what the rate limit is for.
    settings = api_settings.model_copy(update={"api_rate_per_second": 10_000.0,
                                               "api_rate_burst": 100_000})
    api = start_api(settings, spawn)
    total = 0
    # The agency's own token reaches the logic; the refused ones (403, 401) need fewer cases.
    for bearer, examples in ((token(settings, audit=True), MAX_EXAMPLES),
                             (token(settings, agency=OTHER, audit=True), "5"), (None, "5")):
        cases, output = fuzz(api.base, tmp_path, bearer, examples)
        assert "No issues found" in output or "0 failures" in output or " passed" in output, output
        total += cases
    print(f"schemathesis: {total} cases over 3 credential kinds")
    assert total >= 300
    assert api.proc.popen.poll() is None  # the server is still up
