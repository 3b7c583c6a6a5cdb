"""The soak's non-convergence diagnostics: the pure parts (missing ids, logged assignments)."""

from __future__ import annotations

from tooling.faults import Observed, missing
from tooling.soak.diag import last_assignment

FAUST_LOG = """\
[2026-11-26 01:15:36,780] [7361] [INFO] Setting newly assigned partitions
+Topic Partition Set---------------------+------------+
| topic                                  | partitions |
+----------------------------------------+------------+
| p.raw                                  | {0, 2}     |
| p.streams-vehicles-changelog           | {0-3}      |
+----------------------------------------+------------+ for group p.streams
[2026-11-26 01:15:47,834] [7361] [INFO] Setting newly assigned partitions
+Topic Partition Set---------------------+------------+
| topic                                  | partitions |
+----------------------------------------+------------+
| p.raw                                  | {0-3}      |
+----------------------------------------+------------+ for group p.streams
"""

CONSUMER_LOG = (
    '{"ts": "2026-11-26T01:15:35.846+00:00", "msg": "partitions assigned", "partitions": [1, 3]}\n'
    '{"ts": "2026-11-26T01:15:43.920+00:00", "msg": "partitions revoked", "partitions": [1, 3]}\n'
)


def test_last_faust_assignment_names_the_raw_partitions() -> None:
    assert (last_assignment(FAUST_LOG, "p.raw")
            == "[2026-11-26 01:15:47,834] raw {0-3}, recovery not complete")
    first = FAUST_LOG.split("[2026-11-26 01:15:47")[0]
    assert (last_assignment(first + "[^---Recovery]: Recovery complete\n", "p.raw")
            == "[2026-11-26 01:15:36,780] raw {0, 2}, recovered")


def test_last_consumer_assignment_and_none_logged() -> None:
    assert last_assignment(CONSUMER_LOG, "p.raw") == "2026-11-26T01:15:35.846 [1, 3]"
    assert last_assignment("starting\n", "p.raw") == "no assignment logged"


def test_missing_leaves_out_dropped_physical_duplicates_and_forwarded_ids() -> None:
    truth = {"physical_duplicates": [{"forwarded": "a", "dropped": ["a2"]}]}
    seen = Observed(crossings=[{"event_id": "a"}], inspections=[{"event_id": "i"}])
    assert missing(truth, ["a", "a2", "b", "i", "c"], seen) == {"b", "c"}
