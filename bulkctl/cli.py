"""The root Typer app: global options, command registration, and the one place errors
become messages and exit codes.

Start-up stays light: only typer is imported here. Each command imports what it needs
(httpx, rich, the emulator) when it runs, so ``--help`` and ``--version`` stay fast.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Annotated

import typer

from bulkctl import __version__
from bulkctl.context import GlobalOptions

app = typer.Typer(
    name="bulkctl",
    help="Watch and manage bulk processes on the Weavr Multi API.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"bulkctl {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile",
            help="Profile to use (env BULKCTL_PROFILE; 'demo' is built in).",
            metavar="NAME",
        ),
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option(
            "--base-url",
            help="API root URL; overrides the profile's environment and API.",
            metavar="URL",
        ),
    ] = None,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug", help="Log each request to stderr (secrets redacted); show tracebacks."
        ),
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No notes on stderr; errors still show.")
    ] = False,
    no_input: Annotated[
        bool, typer.Option("--no-input", help="Never prompt (also env BULKCTL_NO_INPUT=1).")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Watch and manage bulk processes on the Weavr Multi API."""
    ctx.obj = GlobalOptions(
        profile=profile, base_url=base_url, debug=debug, quiet=quiet, no_input=no_input
    )


def _register() -> None:
    from bulkctl.commands import auth, bulk, config, emulator, list, summary, wait, watch

    list.register(app)
    bulk.register(app)
    wait.register(app)
    watch.register(app)
    summary.register(app)
    app.add_typer(auth.app, name="auth")
    app.add_typer(config.app, name="config")
    app.add_typer(emulator.app, name="emulator")


_register()


def _error(lines: Sequence[str]) -> None:
    print(f"bulkctl: error: {lines[0]}", file=sys.stderr)
    for line in lines[1:]:
        print(f"  {line}", file=sys.stderr)


def _silence_stdout() -> None:
    """The reader went away: point stdout at /dev/null so the final flush stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point: run one command and exit with its code."""
    from bulkctl.errors import BulkctlError, ExitCode

    args = list(sys.argv[1:] if argv is None else argv)
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
        usage_ctx = getattr(exc, "ctx", None)
        hint = None
        if usage_ctx is not None:
            hint = f"see: {usage_ctx.command_path} --help"
        _error([exc.format_message()] + ([hint] if hint else []))
        code = getattr(exc, "exit_code", ExitCode.USAGE)
    except BulkctlError as exc:
        _error(exc.lines())
        code = exc.exit_code
        if debug:
            raise
    except (KeyboardInterrupt, typer.Abort):
        print("bulkctl: interrupted", file=sys.stderr)
        code = ExitCode.INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        code = 141  # as a Unix tool stopped by SIGPIPE
    except Exception as exc:
        if debug:
            raise
        _error(
            [f"internal error: {type(exc).__name__}: {exc}", "run again with --debug for details"]
        )
        code = ExitCode.ERROR
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
        code = code or 141
    except (OSError, ValueError):
        pass
    sys.exit(code)
