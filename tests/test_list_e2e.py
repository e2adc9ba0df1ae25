"""bulkctl list, end to end against the emulator on a loopback port. The real process runs
where the process is the point (a whole listing, piped output, a closed pipe, exit codes 3 and 6,
no config, a bare group); the paging, filter and format variations run the same entry point
in-process (``run_main``)."""

from __future__ import annotations

import csv
import io
import json
import socket

import pytest

from bulkctl.emulator.app import DEMO_API_KEY
from tests.conftest import Served, run_bulkctl, run_main


def server_ids(served: Served, status: str | None) -> list[str]:
    return list(served.state.listing(status))


def newest_first(ids: list[str]) -> list[str]:
    """Several statuses are one list, newest first: the emulator's ids grow with time."""
    return sorted(ids, key=int, reverse=True)


def test_running_all_json_is_exactly_the_servers_running_bulks_in_order(served: Served) -> None:
    result = run_bulkctl("list", "--status", "RUNNING", "--all", "--json", env=served.env())
    assert result.code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [r["bulkId"] for r in rows] == server_ids(served, "RUNNING")
    assert rows == [served.state.bulks[i].to_api() for i in server_ids(served, "RUNNING")]
    assert result.stderr == ""


def test_all_pages_through_offsets_and_never_asks_for_more_than_100(served: Served) -> None:
    result = run_main("list", "--all", "--jsonl", env=served.env())
    assert result.code == 0, result.stderr
    ids = [json.loads(line)["bulkId"] for line in result.stdout.splitlines()]
    assert ids == server_ids(served, None)
    assert len(ids) == 300
    limits = [int(q.split("limit=")[1].split("&")[0]) for _, q in served.emulator.requests]
    assert max(limits) <= 100
    assert served.emulator.violations == []


def test_two_statuses_with_limit_150_give_150_distinct_rows_from_those_statuses(
    served: Served,
) -> None:
    # make sure the two statuses hold more than 150 together
    state = served.state
    for bulk_id in state.listing("COMPLETED")[:160]:
        state.bulks[bulk_id].status = "PAUSED"
    state._version += 1
    result = run_main(
        "list", "--status", "running,paused", "--limit", "150", "--jsonl", env=served.env()
    )
    assert result.code == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    ids = [r["bulkId"] for r in rows]
    assert len(ids) == 150 == len(set(ids))
    expected = newest_first(server_ids(served, "RUNNING") + server_ids(served, "PAUSED"))[:150]
    assert ids == expected
    assert served.emulator.violations == []


def test_two_small_statuses_give_all_of_both(served: Served) -> None:
    result = run_main(
        "list", "-s", "RUNNING", "-s", "paused", "--limit", "150", "--jsonl", env=served.env()
    )
    ids = [json.loads(line)["bulkId"] for line in result.stdout.splitlines()]
    assert ids == newest_first(server_ids(served, "RUNNING") + server_ids(served, "PAUSED"))


def test_offset_skips_rows_of_the_combined_list(served: Served) -> None:
    everything = newest_first(server_ids(served, "RUNNING") + server_ids(served, "PAUSED"))
    result = run_main(
        "list", "-s", "RUNNING,PAUSED", "--offset", "3", "--limit", "5", "--json", env=served.env()
    )
    assert [r["bulkId"] for r in json.loads(result.stdout)] == everything[3:8]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--status", "BOGUS"], "unknown status"),
        (["--limit", "0"], "--limit must be 1 or more"),
        (["--offset", "-1"], "--offset"),
        (["--offset", "2147483648"], "--offset"),
        (["--all", "--limit", "5"], "--all and --limit"),
        (["--output", "yaml"], "unknown output format"),
        (["--fields", "bulkId,nope"], "unknown field"),
        (["--json", "--jsonl"], "choose one output format"),
        (["--limit", "abc"], "--limit"),
        (["--no-such-flag"], "No such option"),
    ],
)
def test_bad_input_exits_2_with_no_request_sent(
    served: Served, args: list[str], message: str
) -> None:
    result = run_main("list", *args, env=served.env())  # parsing only: no process needed
    assert result.code == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2
    assert not served.emulator.requests


def test_no_credentials_exits_3_pointing_to_auth_login() -> None:
    result = run_bulkctl("list")
    assert result.code == 3
    assert "bulkctl auth login" in result.stderr
    assert "--profile demo" in result.stderr


def test_rejected_token_exits_3(served: Served) -> None:
    result = run_main("list", env=served.env(BULKCTL_AUTH_TOKEN="not-a-valid-token"))
    assert result.code == 3
    assert "HTTP 401" in result.stderr
    assert "auth login" in result.stderr
    assert "request-ref" in result.stderr


def test_closed_port_exits_6() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connection refused
        result = run_bulkctl(
            "list",
            env={
                "BULKCTL_BASE_URL": f"http://127.0.0.1:{port}/multi",
                "BULKCTL_API_KEY": DEMO_API_KEY,
                "BULKCTL_AUTH_TOKEN": "t",
                "BULKCTL_RETRIES": "1",
            },
        )
    assert result.code == 6
    assert "cannot connect" in result.stderr
    assert "Traceback" not in result.stderr


def test_remote_plain_http_base_url_exits_2() -> None:
    result = run_main(
        "--base-url",
        "http://api.example.com/multi",
        "list",
        env={"BULKCTL_API_KEY": "k", "BULKCTL_AUTH_TOKEN": "t"},
    )
    assert result.code == 2
    assert "in clear" in result.stderr


def test_nothing_matching_is_not_an_error(served: Served) -> None:
    for bulk_id in list(served.state.listing("PAUSED")):
        served.state.bulks[bulk_id].status = "COMPLETED"
    served.state._version += 1
    assert run_main("list", "-s", "paused", "--json", env=served.env()).stdout.strip() == "[]"
    plain = run_main("list", "-s", "paused", "--no-header", env=served.env())
    assert (plain.code, plain.stdout) == (0, "")


def test_piped_output_is_tab_separated_with_a_header_and_utc_times(served: Served) -> None:
    result = run_bulkctl("list", "-n", "5", env=served.env())
    lines = result.stdout.splitlines()
    assert lines[0].split("\t") == [
        "bulkId",
        "status",
        "operation",
        "submittedItemsCount",
        "mode",
        "executionStart",
        "executionFinish",
    ]
    assert len(lines) == 6
    first = served.state.bulks[served.state.order[0]]
    cells = lines[1].split("\t")
    assert cells[0] == first.bulk_id
    assert cells[5].endswith("Z") and "T" in cells[5]
    assert "\x1b[" not in result.stdout
    assert "5 of 300 shown" in result.stderr


def test_quiet_drops_notes(served: Served) -> None:
    result = run_main("--quiet", "list", "-n", "5", env=served.env())
    assert result.code == 0
    assert result.stderr == ""


def test_csv_output_parses_back(served: Served) -> None:
    result = run_main(
        "list", "-n", "30", "-o", "csv", "--fields", "bulkId,status,operation", env=served.env()
    )
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["bulkId", "status", "operation"]
    assert [r[0] for r in rows[1:]] == served.state.order[:30]


def test_fields_select_keys_in_json(served: Served) -> None:
    result = run_main("list", "-n", "2", "--json", "--fields", "status,bulkId", env=served.env())
    rows = json.loads(result.stdout)
    assert [list(r) for r in rows] == [["status", "bulkId"]] * 2


def test_closed_pipe_is_quiet(served: Served) -> None:
    import subprocess

    from tests.conftest import bulkctl_command

    env = dict(__import__("os").environ, **served.env())
    cmd = " ".join(bulkctl_command()) + " list --all --json | head -c 100"
    proc = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, env=env, timeout=60)
    assert len(proc.stdout) == 100
    assert proc.stderr == ""


def test_debug_logs_requests_without_secrets(served: Served) -> None:
    result = run_main("--debug", "list", "-n", "1", env=served.env())
    assert result.code == 0
    assert "GET " in result.stderr and "-> 200" in result.stderr
    assert DEMO_API_KEY not in result.stderr
    assert served.env()["BULKCTL_AUTH_TOKEN"] not in result.stderr


def test_demo_profile_works_with_no_config_and_no_network() -> None:
    result = run_bulkctl("--profile", "demo", "list", "--status", "RUNNING")
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) > 3
    assert all(line.split("\t")[1] == "RUNNING" for line in lines[1:])


def test_a_bare_group_prints_its_help_plainly_and_exits_2() -> None:
    for run, args in ((run_bulkctl, []), (run_main, ["auth"]), (run_main, ["config"])):
        result = run(*args)
        assert result.code == 2
        assert result.stderr.startswith("Usage: bulkctl")
        assert "error" not in result.stderr.splitlines()[0]
