"""``bulkctl completion SHELL``: print the completion script for bash, zsh or fish."""

from __future__ import annotations

from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    app.command("completion")(completion_command)


def completion_command(
    shell: Annotated[str, typer.Argument(help="bash, zsh or fish.", metavar="SHELL")],
) -> None:
    """Print the completion script for SHELL (the same as completions/ in the repository).

    bash: bulkctl completion bash > ~/.local/share/bash-completion/completions/bulkctl
    """
    from bulkctl.completion import SHELLS, script
    from bulkctl.errors import UsageError

    if shell not in SHELLS:
        raise UsageError(f"unknown shell {shell!r}", hint=f"shells: {', '.join(SHELLS)}")
    print(script(shell), end="")
