"""The root Typer app: global options and command registration.

Start-up stays light: only typer is imported here. Each command imports what it needs
(httpx, rich, the emulator) when it runs, so ``--help`` stays fast. ``bulkctl.__main__``
holds the entry point, which turns errors into messages and exit codes.
"""

from __future__ import annotations

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
    from bulkctl.commands import (
        auth,
        bulk,
        completion,
        config,
        emulator,
        list,
        summary,
        wait,
        watch,
    )

    list.register(app)
    bulk.register(app)
    wait.register(app)
    watch.register(app)
    summary.register(app)
    app.add_typer(auth.app, name="auth")
    app.add_typer(config.app, name="config")
    app.add_typer(emulator.app, name="emulator")
    completion.register(app)
    from bulkctl.ui import command as ui

    ui.register(app)


_register()
