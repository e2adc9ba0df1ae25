"""Long output on a terminal through a pager, as gh does.

While ``paged(ctx)`` is open a command's stdout is held until it fills the screen; from then
on it streams into ``$BULKCTL_PAGER``, ``$PAGER`` or ``less -FRX`` (an empty value or
``cat``: no pager); shorter output goes straight to the terminal at the end. Never in a pipe, with ``CI`` set,
with ``--no-input`` or ``--no-pager``, or when stdin is not a terminal (no keys to read).
A pager left early (``q``) is not an error: its exit status is not the command's, and a
command still writing stops there and exits 0 (``ReaderGone``), with no traceback.
"""

from __future__ import annotations

import io
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any, TextIO

from bulkctl.context import Context
from bulkctl.errors import ReaderGone, Terminated
from bulkctl.output.tables import cells, terminal_width

DEFAULT_PAGER = ("less", "-FRX")


def pager_command(ctx: Context) -> list[str] | None:
    """The pager for this command's output, None when none applies."""
    options = ctx.options
    if options.no_pager or options.no_input or ctx.in_ci:
        return None
    if not (ctx.stdout_tty and ctx.stdin_tty):
        return None
    for name in ("BULKCTL_PAGER", "PAGER"):
        if name in ctx.env:
            try:
                words = shlex.split(ctx.env[name])
            except ValueError:
                return None
            return words if words and words != ["cat"] else None
    return list(DEFAULT_PAGER) if shutil.which(DEFAULT_PAGER[0]) else None


def screen_rows(stream: TextIO, env: dict[str, str] | None = None) -> int:
    """The terminal's rows: $LINES first, then the terminal itself, else 24."""
    lines = (env or {}).get("LINES", "")
    if lines.strip().isdigit() and int(lines) > 0:
        return int(lines)
    try:
        return os.get_terminal_size(stream.fileno()).lines or 24
    except (AttributeError, ValueError, OSError, io.UnsupportedOperation):
        return 24


_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


def rows_taken(text: str, columns: int) -> int:
    """The terminal rows ``text``'s finished lines take at ``columns`` wide, a long line
    wrapping onto several (colour codes take none, a wide character two cells)."""
    rows = 0
    for line in text.split("\n")[:-1]:
        shown = cells(_ESCAPES.sub("", line) if "\x1b" in line else line)
        rows += max(1, -(-shown // columns))
    return rows


class _Notes:
    """The command's stderr while it may be paged: written through, until the pager takes
    the screen; then kept, and written after the pager is left (a retry's note would land
    in the middle of the pager's screen)."""

    def __init__(self, terminal: TextIO) -> None:
        self.terminal = terminal
        self.kept: io.StringIO | None = None

    def write(self, text: str) -> int:
        if self.kept is not None:
            return self.kept.write(text)
        return self.terminal.write(text)

    def flush(self) -> None:
        if self.kept is None:
            self.terminal.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.terminal, name)

    def keep(self) -> None:
        self.kept = io.StringIO()

    def release(self) -> None:
        if self.kept is not None:
            text, self.kept = self.kept.getvalue(), None
            _write(self.terminal, text)


class _Spill(io.StringIO):
    """The command's stdout while it may be paged: a terminal to whoever asks (its width,
    colours). Text is kept until it fills the screen; then the pager starts, gets what was
    kept, and every later write goes straight to it, so a long read shows as it comes."""

    def __init__(self, ctx: Context, terminal: TextIO, command: list[str], notes: _Notes) -> None:
        super().__init__()
        self.ctx = ctx
        self.terminal = terminal
        self.command = command
        self.notes = notes
        env = dict(ctx.env)
        self.rows = screen_rows(terminal, env)
        self.columns = max(1, terminal_width(terminal, env))
        self.pager: subprocess.Popen[bytes] | None = None
        self.gone = False  # the pager left before the end
        self.direct = False  # no pager could start: straight to the terminal

    def isatty(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.terminal.fileno()

    def write(self, text: str) -> int:
        if self.gone:
            raise ReaderGone
        if self.direct:
            return self.terminal.write(text)
        if self.pager is not None:
            self._send(text)
            return len(text)
        written = super().write(text)
        if "\n" in text and rows_taken(self.getvalue(), self.columns) >= self.rows:
            self._start()
        return written

    def flush(self) -> None:
        if self.direct:
            self.terminal.flush()
        elif self.pager is not None and not self.gone:
            assert self.pager.stdin is not None
            try:
                self.pager.stdin.flush()
            except OSError:  # q: the next write stops the command
                self.gone = True

    def _start(self) -> None:
        kept = self.getvalue()
        self.seek(0)
        self.truncate()
        self.ctx.paging = True  # before the pager draws: no progress line over its screen
        self.pager = start_pager(self.ctx, self.command)
        if self.pager is None:  # it could not start: the terminal gets everything
            self.ctx.paging = False
            self.direct = True
            _write(self.terminal, kept)
            return
        self.notes.keep()
        self._send(kept)

    def _send(self, text: str) -> None:
        assert self.pager is not None and self.pager.stdin is not None
        try:
            self.pager.stdin.write(text.encode("utf-8", "replace"))
        except OSError:  # q before the end (a broken pipe): the rest is not wanted
            self.gone = True
            raise ReaderGone from None

    def finish(self, *, stop: bool = False) -> None:
        """Send what is left; with a pager, wait until the user leaves it (``stop``: end
        it now, as a SIGTERM asks), then the notes it kept off the screen."""
        if self.pager is None:  # never started, or could not: what is kept, as it is
            _write(self.terminal, self.getvalue())
            return
        assert self.pager.stdin is not None
        with suppress(OSError):
            self.pager.stdin.close()
        if stop:
            self.pager.terminate()
        _wait(self.pager)
        self.ctx.paging = False
        self.notes.release()


@contextmanager
def paged(ctx: Context) -> Iterator[None]:
    """What the command writes to ``ctx.stdout`` goes through the pager once it is longer
    than the screen (shorter output goes to the terminal at the end, as it is). Notes and
    errors made while the pager shows come after it is left; a SIGTERM ends it at once."""
    command = pager_command(ctx)
    if command is None:
        yield
        return
    terminal, stderr = ctx.stdout, ctx.stderr
    notes = _Notes(stderr)
    spill = _Spill(ctx, terminal, command, notes)
    ctx.stdout, ctx.stderr = spill, notes  # type: ignore[assignment]
    stop = False
    try:
        yield
    except Terminated:
        stop = True
        raise
    finally:
        ctx.stdout, ctx.stderr = terminal, stderr
        spill.finish(stop=stop)


def _write(out: TextIO, text: str) -> None:
    if text:
        out.write(text)
        out.flush()


def _wait(proc: subprocess.Popen[bytes]) -> None:
    while True:
        try:
            proc.wait()
            return
        except Terminated:  # a SIGTERM ends the pager too, and the command with 143
            proc.terminate()
            proc.wait()
            raise
        except KeyboardInterrupt:  # Ctrl-C belongs to the pager while it runs
            continue


def start_pager(ctx: Context, command: list[str]) -> subprocess.Popen[bytes] | None:
    """The pager, reading its stdin; None (and a note) when it cannot start. It gets the
    environment without bulkctl's own variables (they may hold secrets), and ``LESS=FRX``
    unless LESS is set: quit when it fits, colours, the screen kept."""
    env = {k: v for k, v in ctx.env.items() if not k.startswith("BULKCTL_")}
    env.setdefault("LESS", "FRX")
    env.setdefault("LV", "-c")
    try:
        return subprocess.Popen(command, stdin=subprocess.PIPE, env=env)
    except OSError as exc:
        ctx.note(f"pager {shlex.join(command)!r} did not start ({exc.strerror or exc}); not paged")
        return None
