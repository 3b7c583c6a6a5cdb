"""What `make demo` prints for the officer page: a link that opens it signed in."""

from __future__ import annotations

import io
import re
from pathlib import Path

from bordersync.settings import Settings
from tests.integration.api.support import AGENCY, call
from tooling.apidemo import DEMO_OFFICER, start_officer_page


def test_demo_prints_a_signed_in_officer_page_link_that_works(
        api_settings: Settings, tmp_path: Path) -> None:
    out = io.StringIO()
    child = start_officer_page(api_settings, tmp_path / "logs", AGENCY, out)
    try:
        found = re.search(r"(http://127\.0\.0\.1:\d+)/#token=(\S+)", out.getvalue())
        assert found, out.getvalue()
        base, bearer = found.groups()
        assert call(base + "/").status == 200
        info = call(base + "/v1/info", bearer)
        assert info.status == 200 and info.body["agency"] == AGENCY
        audit = call(base + "/v1/audit", bearer).body["entries"]
        assert audit[0]["officer"] == DEMO_OFFICER
    finally:
        assert child.stop() is not None
    assert not child.alive()
