"""A live progress line on stderr while a command reads a big input (``publish --file``).

Only when stderr is a terminal: scripts and CI capture stderr for the ``line N: reason`` errors
the contract promises, so there the wrapper writes nothing and the errors stay exactly as they
were. On a terminal the line is redrawn at most every ``interval`` seconds, and anything else
written to stderr through ``err`` clears it first, so an error never lands in the middle of it.
Stdlib only: a carriage return and ANSI erase-line, no dependency.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import TextIO

ERASE = "\r\x1b[K"


class _Above:
    """A text stream that writes above the live line (clears it, writes; the line comes back on
    the next update)."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress

    def write(self, text: str) -> int:
        self._progress.clear()
        return self._progress.stream.write(text)

    def flush(self) -> None:
        self._progress.stream.flush()


class Progress:
    def __init__(self, label: str, total_bytes: int | None = None, stream: TextIO | None = None,
                 interval: float = 0.2, enabled: bool | None = None) -> None:
        self.label = label
        self.total = total_bytes
        self.stream = stream or sys.stderr
        self.interval = interval
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.lines = 0
        self.bytes = 0
        self._started = time.monotonic()
        self._drawn_at = 0.0
        self._shown = False
        self.err: TextIO = _Above(self) if self.enabled else self.stream  # type: ignore[assignment]

    @classmethod
    def for_file(cls, label: str, stream: TextIO, out: TextIO | None = None) -> Progress:
        """Knows the total for a regular file (a percentage); stdin or a pipe counts only."""
        try:
            size: int | None = os.fstat(stream.fileno()).st_size or None
        except (OSError, ValueError, AttributeError):
            size = None
        return cls(label, size, out)

    def wrap(self, lines: Iterable[str]) -> Iterator[str]:
        for line in lines:
            self.lines += 1
            self.bytes += len(line.encode("utf-8", errors="replace")) if self.enabled else 0
            if self.enabled and time.monotonic() - self._drawn_at >= self.interval:
                self.draw()
            yield line

    def text(self) -> str:
        elapsed = max(time.monotonic() - self._started, 1e-9)
        done = f"{self.bytes / 1e6:.1f} MB"
        if self.total:
            done += f" / {self.total / 1e6:.1f} MB ({min(100.0, 100.0 * self.bytes / self.total):.0f}%)"
        return f"{self.label}: {self.lines:,} lines, {done}, {self.lines / elapsed:,.0f} lines/s"

    def draw(self) -> None:
        self._drawn_at = time.monotonic()
        self.stream.write(ERASE + self.text())
        self.stream.flush()
        self._shown = True

    def clear(self) -> None:
        if self._shown:
            self.stream.write(ERASE)
            self._shown = False

    def close(self) -> None:
        """Erase the live line: the command's own summary follows on stderr."""
        if self.enabled:
            self.clear()
            self.stream.flush()
