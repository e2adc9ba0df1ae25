"""The one way a command runs: build the Context from the global options, parse, run,
close, and turn a ``BulkctlError`` into its lines on stderr and its exit code.

Every command's typer function is one call::

    invoke(ctx, lambda c: parse(c, bulk_id=bulk_id, ...), run)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import typer

from bulkctl.context import Context, GlobalOptions
from bulkctl.errors import BulkctlError, ExitCode

OptionsT = TypeVar("OptionsT")


def invoke(
    typer_ctx: typer.Context,
    parse: Callable[[Context], OptionsT],
    run: Callable[[Context, OptionsT], int | None],
) -> None:
    """Run one command; always ends in ``typer.Exit`` with the command's exit code."""
    options = typer_ctx.obj if isinstance(typer_ctx.obj, GlobalOptions) else GlobalOptions()
    ctx = Context.from_process(options)
    try:
        code = run(ctx, parse(ctx)) or ExitCode.OK
    except BulkctlError as exc:
        if ctx.options.debug:
            raise  # the entry point prints it, then the traceback
        ctx.error(exc.lines(ctx.suggest))
        code = exc.exit_code
    finally:
        ctx.close()
    raise typer.Exit(int(code))
