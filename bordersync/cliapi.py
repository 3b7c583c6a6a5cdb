"""What a role's ``commands`` module needs to register its subcommands: the handler and
``add`` types. Kept apart from ``bordersync.cli`` so the roles import vocabulary, not the CLI that
imports them (no import cycle)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from bordersync.settings import Settings

Handler = Callable[[argparse.Namespace, Settings], int]
AddCommand = Callable[[str, Handler, str], argparse.ArgumentParser]
