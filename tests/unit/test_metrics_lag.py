"""Lag arithmetic and build-info helpers of bordersync.metrics (pure)."""

from __future__ import annotations

from bordersync.metrics import PartitionLag, role_from_argv, total_lag, true_end


def _row(committed: int | None, low: int = 0, end: int = 100) -> PartitionLag:
    return PartitionLag(group="g", topic="t", partition=0, committed=committed, low=low, end=end)


def test_true_end_corrects_tansu_last_batch_base() -> None:
    # Tansu reports base offset of the last batch + 1: a 50-record batch at 0 reports 1.
    assert true_end(1, 49) == 50


def test_true_end_keeps_a_right_watermark() -> None:
    assert true_end(50, 49) == 50
    assert true_end(50, None) == 50
    # A fetch that saw only older records (e.g. compaction) never lowers the end.
    assert true_end(50, 10) == 50


def test_lag_from_commit_to_end() -> None:
    assert _row(committed=40).lag == 60
    assert _row(committed=100).lag == 0


def test_lag_without_commit_counts_from_log_start() -> None:
    assert _row(committed=None, low=30).lag == 70


def test_lag_commit_below_retention_counts_only_what_exists() -> None:
    assert _row(committed=5, low=30).lag == 70


def test_lag_never_negative() -> None:
    assert _row(committed=120).lag == 0


def test_total_lag() -> None:
    assert total_lag([_row(committed=90), _row(committed=None, low=95)]) == 15


def test_role_from_argv() -> None:
    assert role_from_argv(["streams", "worker"]) == "streams-worker"
    assert role_from_argv(["--home", "x", "consume", "--agency", "al-customs"]) == "consume"
    assert role_from_argv([]) == "bordersync"
