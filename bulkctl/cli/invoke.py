"""The one way a command runs: build the Context from the global options, parse, run,
close, and turn a ``BulkctlError`` into its lines on stderr and its exit code.

Every command's typer function is one call::

    invoke(ctx, lambda c: parse(c, bulk_id=bulk_id, ...), run)

and ``bound`` lets that function take a group of shared options (a msgspec Struct
from ``bulkctl.cli.options``) as one parameter, each of its options declared once.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from bulkctl.context import Context, GlobalOptions
from bulkctl.errors import SIGTERM_HOLD, BulkctlError, ExitCode

OptionsT = TypeVar("OptionsT")


def invoke(
    typer_ctx: typer.Context,
    parse: Callable[[Context], OptionsT],
    run: Callable[[Context, OptionsT], int | None],
    *,
    reports: bool = False,
) -> None:
    """Run one command; always ends in ``typer.Exit`` with the command's exit code. A
    SIGTERM held while it started is raised before ``run``, or, with ``reports``, by ``run``
    once its report can be written (``bulkctl.waiting.wait.reports_on_exit``)."""
    if not gc.isenabled():  # the console script's start-up is over (``bulkctl.__main__``)
        gc.freeze()
        gc.enable()
    options = typer_ctx.obj if isinstance(typer_ctx.obj, GlobalOptions) else GlobalOptions()
    ctx = Context.from_process(options)
    try:
        parsed = parse(ctx)
        if not reports:
            SIGTERM_HOLD.release()
        code = run(ctx, parsed) or ExitCode.OK
    except BulkctlError as exc:
        if ctx.options.debug:
            raise  # the entry point prints it, then the traceback
        ctx.error(exc.lines(ctx.suggest))
        code = exc.exit_code
    finally:
        ctx.close()
        SIGTERM_HOLD.release()  # never held past the command
    raise typer.Exit(int(code))


def bound(command: Callable[..., None]) -> Callable[..., None]:
    """``command`` as typer should read it: each parameter typed as an option group (a
    msgspec Struct whose fields carry their ``typer.Option`` in ``Annotated``) is spread into its
    fields, so typer shows and parses each as its own option, in the group's order; the call
    gathers them back into one group. A shared option is declared once, in its group."""
    import functools
    import inspect
    import typing

    import msgspec

    keyword = inspect.Parameter.KEYWORD_ONLY
    hints = typing.get_type_hints(command, include_extras=True)
    groups: dict[str, tuple[Callable[..., Any], list[str]]] = {}
    parameters: list[inspect.Parameter] = []
    for parameter in inspect.signature(command).parameters.values():
        hint = hints.get(parameter.name, parameter.annotation)
        if not (isinstance(hint, type) and issubclass(hint, msgspec.Struct)):
            parameters.append(parameter.replace(annotation=hint, kind=keyword))
            continue
        fields = typing.get_type_hints(hint, include_extras=True)
        names = list(hint.__struct_fields__)
        groups[parameter.name] = (hint, names)
        parameters += [
            inspect.Parameter(
                f.name,
                keyword,
                default=inspect.Parameter.empty if f.default is msgspec.NODEFAULT else f.default,
                annotation=fields[f.name],
            )
            for f in msgspec.structs.fields(hint)
        ]

    @functools.wraps(command)
    def spread(**values: Any) -> None:
        for name, (group, names) in groups.items():
            values[name] = group(**{field: values.pop(field) for field in names})
        command(**values)

    spread.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    spread.__annotations__ = {p.name: p.annotation for p in parameters}
    return spread
