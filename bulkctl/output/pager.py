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
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import TextIO

from bulkctl.context import Context
from bulkctl.errors import ReaderGone

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


class _Spill(io.StringIO):
    """The command's stdout while it may be paged: a terminal to whoever asks (its width,
    colours). Text is kept until it fills the screen; then the pager starts, gets what was
    kept, and every later write goes straight to it, so a long read shows as it comes."""

    def __init__(self, ctx: Context, terminal: TextIO, command: list[str]) -> None:
        super().__init__()
        self.ctx = ctx
        self.terminal = terminal
        self.command = command
        self.rows = screen_rows(terminal, dict(ctx.env))
        self.lines = 0
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
        self.lines += text.count("\n")
        if self.lines >= self.rows:
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
        self.pager = start_pager(self.ctx, self.command)
        if self.pager is None:  # it could not start: the terminal gets everything
            self.direct = True
            _write(self.terminal, kept)
            return
        self.ctx.paging = True  # transient progress would draw over the pager's screen
        self._send(kept)

    def _send(self, text: str) -> None:
        assert self.pager is not None and self.pager.stdin is not None
        try:
            self.pager.stdin.write(text.encode("utf-8", "replace"))
        except OSError:  # q before the end (a broken pipe): the rest is not wanted
            self.gone = True
            raise ReaderGone from None

    def finish(self) -> None:
        """Send what is left; with a pager, wait until the user leaves it."""
        if self.pager is None:  # never started, or could not: what is kept, as it is
            _write(self.terminal, self.getvalue())
            return
        assert self.pager.stdin is not None
        with suppress(OSError):
            self.pager.stdin.close()
        _wait(self.pager)
        self.ctx.paging = False


@contextmanager
def paged(ctx: Context) -> Iterator[None]:
    """What the command writes to ``ctx.stdout`` goes through the pager once it is longer
    than the screen (shorter output goes to the terminal at the end, as it is). An error
    half way shows after the pager is left, or after what was kept is written."""
    command = pager_command(ctx)
    if command is None:
        yield
        return
    terminal = ctx.stdout
    spill = _Spill(ctx, terminal, command)
    ctx.stdout = spill
    try:
        yield
    finally:
        ctx.stdout = terminal
        spill.finish()


def _write(out: TextIO, text: str) -> None:
    if text:
        out.write(text)
        out.flush()


def _wait(proc: subprocess.Popen[bytes]) -> None:
    while True:
        try:
            proc.wait()
            return
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
