"""CLI commands of the stream processors."""

from __future__ import annotations

import argparse

from bordersync.cli import AddCommand
from bordersync.settings import Settings


def cmd_streams(args: argparse.Namespace, settings: Settings) -> int:
    from streams.worker import run_worker

    return run_worker(settings)


def register(add: AddCommand) -> None:
    p = add("streams", cmd_streams, "stream processors")
    p.add_argument("action", choices=["worker"])
