"""``bulkctl submit KIND FILE``: new bulks from a file of items, checked before anything is
sent. Reading and validation are ``bulkctl.files.submission``; sending, executing and waiting are
``bulkctl.actions.sending``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import typer

from bulkctl.actions.sending import SendOptions, check_before_sending, send, send_options
from bulkctl.api.kinds import Kind
from bulkctl.cli.invoke import bound, invoke
from bulkctl.cli.options import (
    FILE_VALUES,
    INPUT_FORMAT_VALUES,
    KIND_VALUES,
    NO_FLAGS,
    SendFlags,
    argument,
    option,
)
from bulkctl.context import Context
from bulkctl.errors import UsageError
from bulkctl.files.submission import FORMATS, InputFile, kind_named


@dataclass
class SubmitOptions:
    kind: Kind
    source: str  # a path, or "-" for stdin
    fmt: str | None  # None: from the name and the first character
    send: SendOptions


def parse(
    ctx: Context, *, kind: str, source: str, fmt: str | None = None, send: SendFlags = NO_FLAGS
) -> SubmitOptions:
    """The arguments of ``submit``, checked (nothing is read or sent yet)."""
    chosen = fmt.strip().lower() if fmt is not None else None
    if chosen is not None and chosen not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}", hint=f"one of: {', '.join(FORMATS)}")
    return SubmitOptions(kind=kind_named(kind), source=source, fmt=chosen, send=send_options(send))


def run(ctx: Context, options: SubmitOptions) -> int:
    """Read and validate every item (exit 2 naming each bad one), then send; returns the
    exit code (wait's with ``--wait``)."""
    check_before_sending(ctx, options.kind, options.send)
    source = InputFile(options.kind, options.source, ctx.stdin, options.fmt)
    try:
        source.check()  # every item, before anything is sent
        return send(ctx, options.kind, source, options.send)
    finally:
        source.close()


@bound
def command(
    ctx: typer.Context,
    kind: Annotated[
        str,
        argument(
            help="users, user-invites, card-blocks, card-unblocks, card-removals, "
            "card-spend-rules, transfers, sends or wire-transfers.",
            metavar="KIND",
            values=KIND_VALUES,
        ),
    ],
    source: Annotated[
        str,
        argument(
            help="JSON Lines, a JSON array or CSV; - for stdin.", metavar="FILE", values=FILE_VALUES
        ),
    ],
    fmt: Annotated[
        str | None,
        option(
            "--format",
            "-f",
            help="Read FILE as jsonl, json or csv (default: .csv is CSV, '[' a JSON array, "
            "'{' JSON Lines).",
            metavar="FORMAT",
            values=INPUT_FORMAT_VALUES,
        ),
    ] = None,
    send: SendFlags = NO_FLAGS,
) -> None:
    """Submit new bulks of KIND from FILE (checked first; nothing sent if any item is wrong).

    Pay out a CSV:  bulkctl submit transfers payout.csv --execute --wait

    Every bad line or row is named, then exit 2 with nothing sent. More than 10,000 items
    become several bulks, in order. Each bulk carries an idempotency-ref derived from its
    content, so running the same command again names the bulks already made instead of
    making new ones (--new makes new ones). Prints the new bulk ids. With --execute, one
    confirmation covers every new bulk (without a terminal it needs --yes); with --wait the
    exit code is wait's: 0 all COMPLETED, 10 CANCELLED, 11 PARTIALLY_COMPLETED, 12 FAILED,
    124 timeout.
    """
    invoke(ctx, lambda c: parse(c, kind=kind, source=source, fmt=fmt, send=send), run)
