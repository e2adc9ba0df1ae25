"""The entry point (console script and ``python -m bulkctl``): run one command, and turn
every error into one or two lines on stderr and a documented exit code.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Sequence
from contextlib import suppress
from typing import TYPE_CHECKING

from bulkctl import __version__

if TYPE_CHECKING:
    import typer


def _error(lines: Sequence[str]) -> None:
    from bulkctl.errors import error_text

    print(error_text(lines), file=sys.stderr)


def _silence_stdout() -> None:
    """The reader went away: point stdout at /dev/null so the final flush stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _on_sigterm(signum: int, frame: object) -> None:
    from bulkctl.errors import SIGTERM_HOLD

    SIGTERM_HOLD.signalled()


def _usage_error(exc: typer.TyperException) -> int:
    """Click's usage error (or a group run bare) on stderr; the exit code."""
    from bulkctl.errors import ExitCode

    if type(exc).__name__ == "NoArgsIsHelpError":  # a group run bare: its help, plainly
        print(exc.format_message(), file=sys.stderr)
        sys.exit(ExitCode.USAGE)
    usage_ctx = getattr(exc, "ctx", None)
    hint = None
    if usage_ctx is not None:
        hint = f"see: {usage_ctx.command_path} --help"
    _error([exc.format_message()] + ([hint] if hint else []))
    code: int = getattr(exc, "exit_code", ExitCode.USAGE)
    return code


def _exit(code: int) -> None:
    """Flush stdout (a reader gone by now is exit 141) and exit with ``code``."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
        code = code or 141
    except (OSError, ValueError):
        pass
    if threading.active_count() > 1:
        # page workers still waiting on the network (after an error or Ctrl-C) must not
        # hold the exit: everything written is flushed, nothing else is pending
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point: run one command and exit with its code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["--version"]:  # answered before typer and the commands are imported
        print(f"bulkctl {__version__}")
        sys.exit(0)

    from bulkctl.errors import SIGTERM_HOLD

    if threading.current_thread() is threading.main_thread():
        # a cancelled CI job: like Ctrl-C, exit 143; one that comes while the command
        # starts is held until it can be reported (the command releases it)
        SIGTERM_HOLD.hold()
        signal.signal(signal.SIGTERM, _on_sigterm)
    # typer and the registry only past the --version fast path
    import typer

    from bulkctl.cli.app import app
    from bulkctl.errors import BulkctlError, ExitCode, ReaderGone, Terminated

    command = typer.main.get_command(app)
    debug = "--debug" in args
    code: int = ExitCode.OK
    try:
        with command.make_context("bulkctl", args) as click_ctx:
            result = command.invoke(click_ctx)
            if isinstance(result, int):
                code = result
    except typer.Exit as exc:
        code = exc.exit_code
    except typer.TyperException as exc:  # click's usage errors (exit 2) and friends
        code = _usage_error(exc)
    except BulkctlError as exc:
        _error(exc.lines())  # no settings here: a suggested command names no profile
        code = exc.exit_code
        if debug:
            raise
    except (KeyboardInterrupt, typer.Abort) as exc:
        terminated = isinstance(exc, Terminated)
        print(f"bulkctl: {'terminated' if terminated else 'interrupted'}", file=sys.stderr)
        code = ExitCode.TERMINATED if terminated else ExitCode.INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        code = 141  # as a Unix tool stopped by SIGPIPE
    except ReaderGone:  # q in the pager before the end: what was read is what was wanted
        code = ExitCode.OK
    except Exception as exc:
        if debug:
            raise
        _error(
            [f"internal error: {type(exc).__name__}: {exc}", "run again with --debug for details"]
        )
        code = ExitCode.ERROR
    _exit(code)


def console() -> None:
    """The console script (and ``python -m bulkctl``): ``main``, then an exit that skips the
    interpreter's teardown of every module and object (20-30 ms after a listing), as
    Instagram's services skip it: once the command has ended, its output and every atexit
    handler done, nothing is left for that teardown to do. ``main`` itself stays an
    ordinary function for the tests that run it in-process."""
    import atexit
    import gc

    # start-up only makes what lives as long as the process (modules, classes, the command
    # line): the collector would scan it again and again for nothing. ``invoke`` turns it
    # back on once the command's modules are loaded, those objects frozen out of its scans.
    gc.disable()
    status: list[int] = []
    atexit.register(_leave, status)  # registered first: it runs last, after every other
    try:
        main()
    except SystemExit as exc:
        code = exc.code
        status.append(code if isinstance(code, int) else 0 if code is None else 1)
        raise
    except KeyboardInterrupt:  # Ctrl-C while typer and the command's modules still load
        from bulkctl.errors import ExitCode

        print("bulkctl: interrupted", file=sys.stderr)
        status.append(ExitCode.INTERRUPTED)
        raise SystemExit(ExitCode.INTERRUPTED) from None


def _leave(status: list[int]) -> None:
    """At the end of the interpreter's exit: flush both streams, then leave with the code."""
    if not status:  # an exception that was no exit (--debug's traceback): the usual teardown
        return
    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError):
            stream.flush()
    os._exit(status[0])


if __name__ == "__main__":
    console()
