"""Options declared once: a group of shared options (a msgspec Struct in ``bulkctl.cli.options``)
is spread by ``bound`` into every command that takes it, and gathered back into one value;
``pause``, ``resume`` and ``cancel`` are one factory's commands."""

from __future__ import annotations

from typing import Annotated, Any

import click
import msgspec
import pytest
import typer
from typer.testing import CliRunner

from bulkctl.actions.sending import send_options
from bulkctl.cli.app import root_command
from bulkctl.cli.invoke import bound
from bulkctl.cli.options import ActionFlags, FleetFlags, FormatFlags, PagingFlags, SendFlags


def params(*path: str) -> dict[str, click.Parameter]:
    """A command's click parameters by name, as the command line builds them."""
    command: Any = root_command()
    for name in path:
        command = command.get_command(None, name)
    return {p.name: p for p in command.params if p.name and not p.hidden}


def described(param: click.Parameter) -> tuple[Any, ...]:
    return (tuple(param.opts), getattr(param, "help", None), param.default, param.metavar)


@pytest.mark.parametrize(
    ("group", "commands"),
    [
        (SendFlags, ["submit", "rerun"]),
        (ActionFlags, ["execute", "pause", "resume", "cancel"]),
        (PagingFlags, ["list", "operations"]),
        (FormatFlags, ["list", "operations"]),
        (FleetFlags, ["list", "summary", "watch"]),
    ],
)
def test_each_field_of_a_group_is_the_same_option_in_every_command(
    group: type, commands: list[str]
) -> None:
    fields = [f.name for f in msgspec.structs.fields(group)]
    seen = [params(name) for name in commands]
    for field in fields:
        first = described(seen[0][field])
        assert all(described(p[field]) == first for p in seen), field


class Toy(msgspec.Struct, frozen=True):
    loud: Annotated[bool, typer.Option("--loud", help="Shout.")] = False
    times: Annotated[int, typer.Option("--times", help="How often.", metavar="N")] = 1


def test_a_field_added_to_a_group_is_an_option_of_the_command_and_reaches_it() -> None:
    got: list[Toy] = []

    @bound
    def command(name: Annotated[str, typer.Argument()], toy: Toy = Toy()) -> None:
        """Greet."""
        got.append(toy)

    app = typer.Typer()
    app.command()(command)
    app.command("other")(lambda: None)  # a group, so the command is named
    result = CliRunner().invoke(app, ["command", "ada", "--loud", "--times", "3"])
    assert result.exit_code == 0, result.output
    assert got == [Toy(loud=True, times=3)]
    help_text = CliRunner().invoke(app, ["command", "--help"]).output
    assert "--loud" in help_text and "How often." in help_text
    assert "toy" not in help_text.lower().split("options")[-1]


def test_every_send_flag_reaches_the_checked_send_options() -> None:
    flags = SendFlags(chunk_size=7, new=True, json_flag=True, interval="2s", junit="r.xml")
    options = send_options(flags)
    assert (options.chunk_size, options.new, options.as_json) == (7, True, True)
    assert (options.interval, options.adaptive, str(options.junit)) == (2.0, False, "r.xml")
    assert options.flags == flags  # a flag that needs no checking is read from here


@pytest.mark.parametrize("action", ["pause", "resume", "cancel"])
def test_pause_resume_and_cancel_differ_only_in_their_action(action: str) -> None:
    import importlib

    module = importlib.import_module(f"bulkctl.commands.bulk.{action}")
    options = module.parse(None, bulk_ids=["12"], flags=ActionFlags(yes=True, json_flag=True))
    assert (options.action, options.bulk_ids, options.yes, options.as_json) == (
        action,
        ["12"],
        True,
        True,
    )
    assert [described(p) for p in params(action).values()] == [
        described(p) for p in params("pause").values()
    ]
