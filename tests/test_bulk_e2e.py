"""One bulk through its whole life with the real bulkctl process: show, operations, actions.

Each test runs the command it is about as a real process; the reads around it (``show_json``)
and the matrices go through the same entry point in-process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from bulkctl.emulator.app import Request, Response
from tests.conftest import Served, bulkctl_command, logged_in, run_bulkctl, run_main, serving


def submitted(served: Served, items: int = 30, fails: tuple[int, ...] = ()) -> str:
    state = served.state
    bulk_id = state.insert_submitted(served.clock(), 1)[0]
    bulk = state.bulks[bulk_id]
    bulk.items, bulk.fail_rate, bulk.forced_fails, bulk._fails = items, 0.0, fails, sorted(fails)
    bulk.pace = 10.0
    return bulk_id


def show_json(served: Served, bulk_id: str) -> dict[str, Any]:
    """``bulkctl show ID --json``, in-process (test_show_piped_is_field_tab_value is a process)."""
    result = run_main("show", bulk_id, "--json", env=served.env())
    assert result.code == 0, result.stderr
    data = json.loads(result.stdout)
    assert isinstance(data, dict)
    return data


def counts(bulk: dict[str, Any]) -> dict[str, int]:
    return {c["status"]: c["count"] for c in bulk["operationStatusCounts"]}


def test_execute_then_run_to_completion(served: Served) -> None:
    bulk_id = submitted(served, items=30, fails=(4, 17))
    result = run_bulkctl(
        "execute", bulk_id, "--yes", "--mode", "on-failure-continue", env=served.env()
    )
    assert result.code == 0, result.stderr
    assert show_json(served, bulk_id)["status"] == "RUNNING"
    served.clock.advance(60)
    bulk = show_json(served, bulk_id)
    assert bulk["status"] == "PARTIALLY_COMPLETED" and bulk["mode"] == "ON_FAILURE_CONTINUE"
    assert counts(bulk) == {
        "SUBMITTED": 0,
        "RUNNING": 0,
        "COMPLETED": 28,
        "FAILED": 2,
        "CANCELLED": 0,
    }
    failed = run_bulkctl("operations", bulk_id, "--status", "failed", "--json", env=served.env())
    ops = json.loads(failed.stdout)
    assert [op["sequence"] for op in ops] == [5, 18]
    assert all("errorCode" in json.loads(op["responsePayload"]) for op in ops)
    assert served.emulator.violations == []


def test_execute_defaults_to_on_failure_stop(served: Served) -> None:
    bulk_id = submitted(served, items=30, fails=(9,))
    assert run_main("execute", bulk_id, "--yes", env=served.env()).code == 0
    served.clock.advance(60)
    bulk = show_json(served, bulk_id)
    assert bulk["mode"] == "ON_FAILURE_STOP"
    assert (
        counts(bulk)["COMPLETED"] == 9
        and counts(bulk)["FAILED"] == 1
        and counts(bulk)["CANCELLED"] == 20
    )
    assert bulk["status"] == "PARTIALLY_COMPLETED"


def test_pause_resume_cancel(served: Served) -> None:
    bulk_id = submitted(served, items=300)
    env = served.env()
    assert run_main("execute", bulk_id, "-y", env=env).code == 0  # pause, resume, cancel: real
    served.clock.advance(2)
    assert run_bulkctl("pause", bulk_id, "--yes", env=env).code == 0
    paused = show_json(served, bulk_id)
    assert paused["status"] == "PAUSED"
    served.clock.advance(100)
    assert counts(show_json(served, bulk_id)) == counts(paused)  # nothing moves while paused
    assert run_bulkctl("resume", bulk_id, "--yes", env=env).code == 0
    served.clock.advance(1)
    assert run_bulkctl("cancel", bulk_id, "--yes", env=env).code == 0
    bulk = show_json(served, bulk_id)
    assert bulk["status"] == "CANCELLED"
    c = counts(bulk)
    assert c["COMPLETED"] == 30 and c["CANCELLED"] == 270 and sum(c.values()) == 300
    assert bulk["executionFinish"] >= bulk["executionStart"]


def test_illegal_action_exits_5_and_says_why(served: Served) -> None:
    completed = served.state.listing("COMPLETED")[0]
    result = run_main("execute", completed, "--yes", env=served.env())
    assert result.code == 5
    assert f"bulk {completed} is COMPLETED; only a SUBMITTED bulk can be executed" in result.stderr
    result = run_main("resume", completed, env=served.env())
    assert "only a PAUSED bulk can be resumed" in result.stderr


def test_unknown_bulk_exits_4(served: Served) -> None:
    for args in (["show", "424242"], ["operations", "424242"], ["pause", "424242"]):
        result = run_main(*args, env=served.env())
        assert result.code == 4, args
        assert "not found" in result.stderr
        assert result.stdout == "", args  # no header line for a listing that never began


@pytest.mark.parametrize("bad", ["12a", "１２", " 12", "-5", "1e3"])
def test_bad_ids_exit_2_before_any_request(served: Served, bad: str) -> None:
    for command in ("show", "operations", "execute", "cancel"):
        result = run_main(  # parsing only: no process needed
            command,
            bad,
            "--yes" if command in ("execute", "cancel") else "--json",
            env=served.env(),
        )
        assert result.code == 2, (command, bad, result.stderr)
    assert not served.emulator.requests


def test_several_ids_report_each_and_exit_with_the_worst(served: Served) -> None:
    good = submitted(served)
    completed = served.state.listing("COMPLETED")[0]
    result = run_main("execute", good, completed, "777", "--yes", "--json", env=served.env())
    results = json.loads(result.stdout)
    assert [r["exitCode"] for r in results] == [0, 5, 4]
    assert result.code == 5
    assert show_json(served, good)["status"] == "RUNNING"


def test_execute_and_cancel_refuse_without_a_terminal_or_yes(served: Served) -> None:
    bulk_id = submitted(served)
    for args in (["execute", bulk_id], ["--no-input", "execute", bulk_id]):
        result = run_main(*args, env=served.env())
        assert result.code == 2
        assert "--yes" in result.stderr
    # the status is read first: an action that cannot succeed says why, not "pass --yes"
    result = run_main("cancel", bulk_id, env=served.env())
    assert result.code == 5 and "only a RUNNING or PAUSED bulk" in result.stderr
    assert run_main("execute", "999", env=served.env()).code == 4
    assert not [r for r in served.emulator.requests if r[0] == "POST"]


def test_dry_run_sends_nothing_and_shows_the_request(served: Served) -> None:
    bulk_id = submitted(served)
    result = run_bulkctl(
        "execute",
        bulk_id,
        "--dry-run",
        "--mode",
        "ON_failure_CONTINUE",
        "--webhook-interval",
        "25",
        env=served.env(),
    )
    assert result.code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == f"POST {served.multi}/bulks/{bulk_id}/execute"
    assert json.loads(lines[1]) == {"mode": "ON_FAILURE_CONTINUE", "webhookInterval": 25}
    assert [method for method, _ in served.emulator.requests] == ["GET"]  # it reads the bulk
    assert served.state.bulks[bulk_id].status == "SUBMITTED"


def test_dry_run_reads_the_bulk_so_an_unknown_id_exits_4_and_a_wrong_status_5(
    served: Served,
) -> None:
    # the real process for --dry-run is test_dry_run_sends_nothing_and_shows_the_request
    assert run_main("execute", "424242", "--dry-run", env=served.env()).code == 4
    completed = served.state.listing("COMPLETED")[0]
    result = run_main("cancel", completed, "--dry-run", env=served.env())
    assert result.code == 5
    assert "only a RUNNING or PAUSED bulk can be cancelled" in result.stderr
    assert result.stdout == ""
    assert not [r for r in served.emulator.requests if r[0] == "POST"]
    logged_out = run_main("execute", completed, "--dry-run", env={"BULKCTL_BASE_URL": served.multi})
    assert logged_out.code == 3


@pytest.mark.parametrize("action", ["execute", "pause", "resume", "cancel"])
def test_an_action_the_status_rules_out_is_refused_before_any_prompt(
    served: Served, action: str
) -> None:
    import os

    import pexpect

    completed = served.state.listing("COMPLETED")[0]
    command = bulkctl_command()
    child = pexpect.spawn(
        command[0],
        [*command[1:], action, completed],
        env=dict(os.environ, **served.env()),
        encoding="utf-8",
        timeout=30,
    )
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 5
    assert "[y/N]" not in (child.before or "")
    assert f"bulk {completed} is COMPLETED; only a" in (child.before or "")
    assert not [r for r in served.emulator.requests if r[0] == "POST"]


def test_confirmation_on_a_terminal_shows_what_and_where(served: Served) -> None:
    import os

    import pexpect

    bulk_id = submitted(served, items=5000)
    served.state.bulks[bulk_id].operation = "/transfers"
    env = dict(os.environ, **served.env())
    command = bulkctl_command()
    child = pexpect.spawn(
        command[0], [*command[1:], "execute", bulk_id], env=env, encoding="utf-8", timeout=30
    )
    child.expect(
        r"execute bulk \d+ on custom base URL \(127\.0\.0\.1:\d+, profile default\): 5,000 × /transfers, ON_FAILURE_STOP\? \[y/N\]"
    )
    child.sendline("n")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 8  # declined: a script tells it from done
    assert served.state.bulks[bulk_id].status == "SUBMITTED"
    child = pexpect.spawn(
        command[0], [*command[1:], "execute", bulk_id], env=env, encoding="utf-8", timeout=30
    )
    child.expect(r"\[y/N\]")
    child.sendline("y")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert served.state.bulks[bulk_id].status == "RUNNING"


def test_show_piped_is_field_tab_value(served: Served) -> None:
    bulk_id = served.state.listing("PARTIALLY_COMPLETED")[0]
    result = run_bulkctl("show", bulk_id, env=served.env())
    pairs = dict(line.split("\t", 1) for line in result.stdout.splitlines())
    assert pairs["bulkId"] == bulk_id
    assert pairs["status"] == "PARTIALLY_COMPLETED"
    assert json.loads(pairs["operationStatusCounts"])


def test_operations_paging_and_sequence(served: Served) -> None:
    # several pages of 100 and a part page, without reading thousands of operations
    bulk_id = next(
        i for i in served.state.listing("COMPLETED") if 200 < served.state.bulks[i].items < 1000
    )
    items = served.state.bulks[bulk_id].items
    assert items % 100
    everything = run_main("operations", bulk_id, "--all", "--jsonl", env=served.env())
    assert [json.loads(line)["sequence"] for line in everything.stdout.splitlines()] == list(
        range(1, items + 1)
    )
    one = run_main("operations", bulk_id, "--sequence", "1", "--json", env=served.env())
    assert [op["sequence"] for op in json.loads(one.stdout)] == [1]
    bad = run_main("operations", bulk_id, "--status", "PAUSED", env=served.env())
    assert bad.code == 2 and "SUBMITTED, RUNNING, COMPLETED, FAILED, CANCELLED" in bad.stderr


def test_the_demo_profile_remembers_actions_between_commands() -> None:
    """The two executes are real processes: the second is refused for what the first did."""
    listed = run_main(
        "--profile",
        "demo",
        "list",
        "-s",
        "submitted",
        "-n",
        "1",
        "--no-header",
        "--fields",
        "bulkId",
    )
    bulk_id = listed.stdout.strip()
    assert bulk_id.isdigit()
    assert run_bulkctl("--profile", "demo", "execute", bulk_id, "--yes").code == 0
    shown = json.loads(run_main("--profile", "demo", "show", bulk_id, "--json").stdout)
    assert shown["status"] in ("RUNNING", "COMPLETED", "PARTIALLY_COMPLETED", "FAILED")
    assert run_main("--profile", "demo", "pause", bulk_id, "--yes").code in (0, 5)
    again = run_bulkctl("--profile", "demo", "execute", bulk_id, "--yes")
    assert again.code == 5


# -- hostile but valid answers ------------------------------------------------------------------


class Hostile:
    """Answers every request with the given JSON, whatever it asks."""

    def __init__(self, bulk: dict[str, Any], operations: list[dict[str, Any]]) -> None:
        self.bulk = bulk
        self.operations = operations

    def handle(self, request: Request) -> Response:
        if "/operations" in request.url:
            body = {
                "count": len(self.operations),
                "operations": self.operations,
                "responseCount": len(self.operations),
            }
        else:
            body = self.bulk
        return Response(
            200, json.dumps(body).encode(), {"content-type": "application/json", "request-ref": "h"}
        )


@pytest.fixture
def hostile() -> Iterator[str]:
    server = Hostile(
        {
            "bulkId": "5",  # the id asked for: an answer for another is malformed
            "status": "EXPLODED",
            "submittedItemsCount": 0,
            "executionStart": -(10**12),  # 1938, and 9999-12-30: the ends a date can be
            "executionFinish": 253_402_128_000_000,
            "operation": None,
            "operationStatusCounts": [{"status": "WAT", "count": 4}, {}],
        },
        [
            {"sequence": -3, "status": "LIMBO", "responsePayload": "<html>"},
            {"sequence": 2**31 - 1},
            {},
        ],
    )
    with serving(server) as root:  # type: ignore[arg-type]
        yield root + "/multi"


@pytest.mark.parametrize(
    "output", [[], ["--json"], ["-o", "csv"], ["-o", "markdown"], ["-o", "table"]]
)
def test_hostile_answers_are_shown_not_crashed_on(hostile: str, output: list[str]) -> None:
    env = logged_in(hostile)
    for command in (["show", "5"], ["operations", "5", "--all"]):
        result = run_main(*command, *output, env=env)  # the terminal case below is a real process
        assert result.code == 0, result.stderr
        assert "Traceback" not in result.stderr


def test_hostile_show_on_a_terminal_draws_no_bar_for_a_zero_total(hostile: str) -> None:
    import os

    import pexpect

    env = dict(os.environ, BULKCTL_BASE_URL=hostile, BULKCTL_API_KEY="k", BULKCTL_AUTH_TOKEN="t")
    command = bulkctl_command()
    child = pexpect.spawn(
        command[0], [*command[1:], "show", "5"], env=env, encoding="utf-8", timeout=30
    )
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert "EXPLODED" in child.before
    assert "total unknown" in child.before


def test_execute_points_to_watch_for_what_it_started(served: Served) -> None:
    first, second, third = served.state.listing("SUBMITTED")[:3]
    one = run_bulkctl("execute", first, "--yes", env=served.env())
    assert one.code == 0, one.stderr
    assert one.stderr.splitlines()[-1].startswith("next: bulkctl")
    assert one.stderr.splitlines()[-1].endswith(f" watch {first}")
    two = run_bulkctl("execute", second, third, "--yes", env=served.env())
    assert two.code == 0, two.stderr
    assert two.stderr.splitlines()[-1].endswith(" watch -s running")
    refused = run_bulkctl("execute", first, "--yes", env=served.env())  # RUNNING now: nothing
    assert refused.code == 5 and "watch" not in refused.stderr
