"""The live progress line of `publish`: on a terminal only, never mixed into an error line."""

from __future__ import annotations

import io
from pathlib import Path

from bordersync.progress import ERASE, Progress


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_silent_when_stderr_is_not_a_terminal() -> None:
    err = io.StringIO()
    p = Progress("publish", stream=err, interval=0.0)
    assert list(p.wrap(["a\n", "b\n"])) == ["a\n", "b\n"]
    print("line 2: bad", file=p.err)
    p.close()
    assert err.getvalue() == "line 2: bad\n"  # exactly what the contract promises, nothing else


def test_live_line_on_a_terminal_and_errors_above_it() -> None:
    err = _Tty()
    p = Progress("publish", total_bytes=4, stream=err, interval=0.0)
    lines = p.wrap(["a\n", "b\n"])
    next(lines)
    assert err.getvalue().endswith("publish: 1 lines, 0.0 MB / 0.0 MB (50%), " +
                                   err.getvalue().rsplit(", ", 1)[1])
    print("line 1: bad", file=p.err)  # clears the live line first
    assert err.getvalue().endswith(ERASE + "line 1: bad\n")
    assert list(lines) == ["b\n"] and p.lines == 2
    p.close()
    assert err.getvalue().endswith(ERASE)


def test_a_regular_file_gives_a_total(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    path.write_text("x\n" * 10)
    with path.open() as f:
        assert Progress.for_file("publish", f, _Tty()).total == 20
    assert Progress.for_file("publish", io.StringIO("x"), _Tty()).total is None
