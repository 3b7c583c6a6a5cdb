"""deploy/prometheus: config and rules pass Debian's promtool, and the rule unit tests pass."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

PROM = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
RULES = PROM / "rules" / "bordersync.yml"


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("promtool")
    assert tool, "promtool missing: `make test` installs it (deploy/scripts/system-deps.sh)"
    return subprocess.run([tool, *args], cwd=PROM, capture_output=True, text=True, timeout=120)


def test_rules_check() -> None:
    done = _promtool("check", "rules", str(RULES))
    assert done.returncode == 0, done.stdout + done.stderr


def test_rules_unit_tests() -> None:
    tests = sorted(str(p) for p in (PROM / "tests").glob("*.yml"))
    assert tests
    done = _promtool("test", "rules", *tests)
    assert done.returncode == 0, done.stdout + done.stderr


def test_config_check() -> None:
    done = _promtool("check", "config", "--syntax-only", str(PROM / "prometheus.yml"))
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_has_severity_summary_and_runbook_section() -> None:
    doc = (PROM.parents[1] / "docs" / "operations.md").read_text("utf-8")
    anchors = {
        "#" + "-".join(line.lstrip("#").strip().lower().replace(",", "").split())
        for line in doc.splitlines() if line.startswith("#")
    }
    alerts = [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"] if "alert" in r]
    assert len(alerts) >= 5
    for rule in alerts:
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        runbook = rule["annotations"]["runbook"]
        assert runbook.startswith("docs/operations.md#"), rule["alert"]
        assert runbook.removeprefix("docs/operations.md") in anchors, (rule["alert"], runbook)


def test_rules_cover_the_issue() -> None:
    names = {r.get("alert") for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]}
    for required in ("BordersyncPipelineDown", "BordersyncConsumerLagGrowing", "BordersyncDLQReceiving",
                     "BordersyncUnmatchedVehiclesRising", "BordersyncOutboxBacklogOld"):
        assert required in names
