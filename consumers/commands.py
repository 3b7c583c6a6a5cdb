"""CLI commands of partner agencies: consume, lookup (issue 6)."""

from __future__ import annotations

from bordersync.cli import AddCommand


def register(add: AddCommand) -> None:
    """Partner-agency commands land here."""
