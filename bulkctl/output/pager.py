"""Long output on a terminal through a pager, as gh does.

While ``paged(ctx)`` is open a command's stdout is held; when it closes, output longer than
the screen goes to ``$BULKCTL_PAGER``, ``$PAGER`` or ``less -FRX`` (an empty value or
``cat``: no pager), the rest straight to the terminal. Never in a pipe, with ``CI`` set,
with ``--no-input`` or ``--no-pager``, or when stdin is not a terminal (no keys to read).
A pager left early (``q``) is not an error: its exit status is not the command's, and the
pipe it closed is no traceback.
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


class _Held(io.StringIO):
    """The command's stdout while it may be paged: a terminal to whoever asks (its width,
    colours), text kept until the command ends."""

    def __init__(self, terminal: TextIO) -> None:
        super().__init__()
        self.terminal = terminal

    def isatty(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.terminal.fileno()


@contextmanager
def paged(ctx: Context) -> Iterator[None]:
    """Hold what the command writes to ``ctx.stdout``; page it at the end when it is longer
    than the screen. An error half way writes what was held, as it is, before it shows."""
    command = pager_command(ctx)
    if command is None:
        yield
        return
    terminal = ctx.stdout
    held = _Held(terminal)
    ctx.stdout = held
    try:
        yield
    except BaseException:
        ctx.stdout = terminal
        _write(terminal, held.getvalue())
        raise
    ctx.stdout = terminal
    text = held.getvalue()
    if text.count("\n") < screen_rows(terminal, dict(ctx.env)):
        _write(terminal, text)
        return
    show_in_pager(ctx, command, text)


def _write(out: TextIO, text: str) -> None:
    if text:
        out.write(text)
        out.flush()


def show_in_pager(ctx: Context, command: list[str], text: str) -> None:
    """``text`` through the pager; a pager that cannot start leaves it on the terminal.
    The pager gets the environment without bulkctl's own variables (they may hold secrets),
    and ``LESS=FRX`` unless LESS is set: quit when it fits, colours, the screen kept."""
    env = {k: v for k, v in ctx.env.items() if not k.startswith("BULKCTL_")}
    env.setdefault("LESS", "FRX")
    env.setdefault("LV", "-c")
    try:
        proc = subprocess.Popen(command, stdin=subprocess.PIPE, env=env)
    except OSError as exc:
        ctx.note(f"pager {shlex.join(command)!r} did not start ({exc.strerror or exc}); not paged")
        _write(ctx.stdout, text)
        return
    assert proc.stdin is not None
    try:
        proc.stdin.write(text.encode("utf-8", "replace"))
        proc.stdin.close()
    except OSError:  # q before the end (a broken pipe): the rest is not wanted
        with suppress(OSError):
            proc.stdin.close()
    while True:
        try:
            proc.wait()
            return
        except KeyboardInterrupt:  # Ctrl-C belongs to the pager while it runs
            continue
