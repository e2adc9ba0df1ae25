"""``bulkctl config reset-limits``: forget what the API's answers taught the pacer."""

from __future__ import annotations

from dataclasses import dataclass

import typer

from bulkctl.cli.invoke import invoke
from bulkctl.config import shown
from bulkctl.context import Context


@dataclass
class ResetLimitsOptions:
    pass


def parse(ctx: Context) -> ResetLimitsOptions:
    """``config reset-limits`` takes no arguments."""
    return ResetLimitsOptions()


def run(ctx: Context, options: ResetLimitsOptions) -> int:
    """Clear learned windows and waits the API named from every pacer file, and from the
    rate_limit_store when one is named; print each file and key."""
    from bulkctl.pacing.pacer import forget_learned

    changed: list[object] = list(forget_learned(ctx.state_dir))
    store = ctx.settings().get("rate_limit_store")
    if store:  # shared by the fleet: what one machine learned, every machine forgets
        from bulkctl.pacing.redis_store import forget_learned_in_store

        changed += [
            f"{shown('rate_limit_store', store)} {key}"
            for key in forget_learned_in_store(store, warn=ctx.warn)
        ]
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
