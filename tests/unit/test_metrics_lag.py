"""Lag arithmetic and build-info helpers of bordersync.metrics (pure)."""

from __future__ import annotations

from bordersync.metrics import PartitionLag, role_from_argv, total_lag


def _row(committed: int | None, low: int = 0, end: int = 100) -> PartitionLag:
    return PartitionLag(group="g", topic="t", partition=0, committed=committed, low=low, end=end)


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
