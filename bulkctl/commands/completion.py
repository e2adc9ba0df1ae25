"""``bulkctl completion SHELL``: print the completion script for bash, zsh or fish."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import typer

from bulkctl.cli.completion import script
from bulkctl.cli.invoke import invoke
from bulkctl.cli.options import SHELL_VALUES, SHELLS, argument
from bulkctl.context import Context
from bulkctl.errors import UsageError


@dataclass
class CompletionOptions:
    shell: str
    root: Any  # the root click command, whose tree the script completes


def parse(ctx: Context, *, shell: str, root: Any) -> CompletionOptions:
    """The shell, checked."""
    if shell not in SHELLS:
        raise UsageError(f"unknown shell {shell!r}", hint=f"shells: {', '.join(SHELLS)}")
    return CompletionOptions(shell=shell, root=root)


def run(ctx: Context, options: CompletionOptions) -> int:
    """Write the script to stdout."""
    print(script(options.shell, options.root), end="", file=ctx.stdout)
    return 0


def command(
    ctx: typer.Context,
    shell: Annotated[
        str, argument(help="bash, zsh or fish.", metavar="SHELL", values=SHELL_VALUES)
    ],
) -> None:
    """Print the completion script for SHELL (the same as completions/ in the repository).

    bash: bulkctl completion bash > ~/.local/share/bash-completion/completions/bulkctl
    """
    invoke(ctx, lambda c: parse(c, shell=shell, root=ctx.find_root().command), run)
