"""``bulkctl config reset-limits``: forget what the API's answers taught the pacer."""

from __future__ import annotations

from dataclasses import dataclass

import typer

from bulkctl.cli.invoke import invoke
from bulkctl.context import Context


@dataclass
class ResetLimitsOptions:
    pass


def parse(ctx: Context) -> ResetLimitsOptions:
    """``config reset-limits`` takes no arguments."""
    return ResetLimitsOptions()


def run(ctx: Context, options: ResetLimitsOptions) -> int:
    """Clear learned windows and waits the API named from every pacer file; print each file."""
    from bulkctl.pacing.pacer import forget_learned

    changed = forget_learned(ctx.state_dir)
    for path in changed:
        print(path, file=ctx.stdout)
    if changed:
        ctx.note("forgot the windows and waits learned from the API's answers")
    else:
        ctx.note(f"nothing learned to forget (state folder {ctx.state_dir})")
    return 0


def command(ctx: typer.Context) -> None:
    """Forget the request windows and quota waits learned from the API's answers (every host
    and key); the rate_limit setting stays."""
    invoke(ctx, parse, run)
