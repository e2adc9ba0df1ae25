"""``bulkctl config path``: where the config file is."""

from __future__ import annotations

from dataclasses import dataclass

import typer

from bulkctl.cli.invoke import invoke
from bulkctl.context import Context


@dataclass
class PathOptions:
    pass


def parse(ctx: Context) -> PathOptions:
    """``config path`` takes no arguments."""
    return PathOptions()


def run(ctx: Context, options: PathOptions) -> int:
    """Print the config file's path."""
    print(ctx.store.path, file=ctx.stdout)
    return 0


def command(ctx: typer.Context) -> None:
    """Print the config file's path (it may not exist yet)."""
    invoke(ctx, parse, run)
