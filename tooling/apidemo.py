"""The officer page in ``bordersync demo``: the API of one agency on free ports, and a signed-in
link to print (a dev token of the local issuer in the URL fragment), so ``make demo`` still
needs one command and nothing to configure."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import TextIO

from bordersync.settings import Settings
from consumers.api import officer_url
from consumers.auth import SCOPE_AUDIT, SCOPE_LOOKUP, issue_dev_token
from tooling.procs import Child

DEMO_OFFICER = "demo-officer"


def start_officer_page(settings: Settings, logs: Path, agency: str, out: TextIO,
                       timeout: float = 20.0) -> Child:
    """Starts ``bordersync api --agency <agency>`` (the caller stops the returned child) and
    prints where to open the officer page signed in; raises RuntimeError if it never listens."""
    log = logs / f"api-{agency}.log"
    child = Child(f"api-{agency}", ["api", "--agency", agency, "--port", "0"], settings, log,
                  BORDERSYNC_API_ADMIN_PORT="0")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and child.alive():
        found = re.search(r"api=(https?://\S+)", log.read_text(errors="replace"))
        if found:
            token = issue_dev_token(settings, agency, DEMO_OFFICER, (SCOPE_LOOKUP, SCOPE_AUDIT))
            print(f"  officer page of {agency}, signed in as {DEMO_OFFICER} (open it while the "
                  f"demo runs):\n    {officer_url(found.group(1), token)}", file=out, flush=True)
            return child
        time.sleep(0.2)
    child.stop()
    raise RuntimeError(f"the {agency} API did not start; see {log}")
