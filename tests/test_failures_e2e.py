"""Why did it fail, in one step: ``show`` groups a failed bulk's FAILED operations by errorCode
and names the next command; ``operations --status failed --errors`` groups the whole bulk."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from bulkctl.api.records import failure_reason
from tests.conftest import Served, run_bulkctl

GROUP_ROW = re.compile(r"^(\S+)\s+(\d+)\s+\S")


def failed_of(show_json: str) -> int:
    bulk = json.loads(show_json)
    return next(c["count"] for c in bulk["operationStatusCounts"] if c["status"] == "FAILED")


def groups_in(table: str) -> dict[str, int]:
    """ERROR CODE -> COUNT from the failures table at the end of ``show``."""
    part = table.split("failed operations by errorCode", 1)[1]
    rows = part.split("\n\n", 1)[0].splitlines()[2:]  # past the heading and the column names
    return {m.group(1): int(m.group(2)) for m in map(GROUP_ROW.match, rows) if m}


def test_show_on_a_partially_completed_demo_bulk_adds_up_to_its_failed_count() -> None:
    listed = run_bulkctl(
        "--profile", "demo", "list", "-s", "partially_completed", "-n", "1", "--json"
    )
    bulk_id = json.loads(listed.stdout)[0]["bulkId"]
    failed = failed_of(run_bulkctl("--profile", "demo", "show", bulk_id, "--json").stdout)
    assert 0 < failed <= 100  # one page holds them all: the groups must add up exactly
    result = run_bulkctl("--profile", "demo", "show", bulk_id, "-o", "table")
    assert result.code == 0, result.stderr
    assert not [line for line in result.stdout.splitlines() if line.endswith(" ")]
    groups = groups_in(result.stdout)
    assert len(groups) >= 2
    assert sum(groups.values()) == failed
    assert all(code.isupper() for code in groups)
    assert (
        f"next: bulkctl --profile demo operations {bulk_id} --status failed --errors"
        in result.stdout
    )


def many_failures(served: Served) -> tuple[str, int]:
    """A PARTIALLY_COMPLETED bulk with more FAILED operations than one page."""
    bulk_id = next(
        b for b in served.state.listing("PARTIALLY_COMPLETED") if served.state.bulks[b].items >= 300
    )
    bulk = served.state.bulks[bulk_id]
    bulk._fails = list(range(0, bulk.items, 2))
    return bulk_id, len(bulk._fails)


def test_show_reads_one_page_of_failures_and_says_of_how_many(served: Served) -> None:
    bulk_id, failed = many_failures(served)
    served.emulator.requests.clear()
    result = run_bulkctl("show", bulk_id, "-o", "table", env=served.env())
    assert result.code == 0, result.stderr
    assert f"(the first 100 of {failed:,})" in result.stdout
    assert sum(groups_in(result.stdout).values()) == 100
    operations = [url for _, url in served.emulator.requests if "/operations" in url]
    assert len(operations) == 1 and "status=FAILED" in operations[0]
    assert "limit=100" in operations[0]


def test_show_piped_keeps_its_shape_and_points_to_errors_on_stderr(served: Served) -> None:
    bulk_id, failed = many_failures(served)
    served.emulator.requests.clear()
    result = run_bulkctl("show", bulk_id, env=served.env())
    assert all("\t" in line for line in result.stdout.splitlines())
    assert f"{failed:,} operations failed; see: bulkctl operations {bulk_id}" in result.stderr
    assert not [url for _, url in served.emulator.requests if "/operations" in url]
    quiet = run_bulkctl("show", bulk_id, "--json", env=served.env())
    assert quiet.stderr == ""


def test_show_on_a_completed_bulk_has_no_failures_part(served: Served) -> None:
    bulk_id = served.state.listing("COMPLETED")[0]
    result = run_bulkctl("show", bulk_id, "-o", "table", env=served.env())
    assert "errorCode" not in result.stdout and "--errors" not in result.stdout + result.stderr


@pytest.mark.parametrize("fmt", ["table", "wide", "plain", "csv", "markdown", "json", "jsonl"])
def test_operations_errors_groups_the_whole_bulk_in_every_format(served: Served, fmt: str) -> None:
    bulk_id, failed = many_failures(served)
    result = run_bulkctl(
        "operations", bulk_id, "--status", "failed", "--errors", "-o", fmt, env=served.env()
    )
    assert result.code == 0, result.stderr
    out = result.stdout
    if fmt == "json":
        rows = json.loads(out)
        assert set(rows[0]) == {"errorCode", "count", "example"}
        counts = [r["count"] for r in rows]
    elif fmt == "jsonl":
        counts = [json.loads(line)["count"] for line in out.splitlines()]
    elif fmt == "csv":
        counts = [int(r["count"]) for r in csv.DictReader(io.StringIO(out))]
    elif fmt == "plain":
        counts = [int(line.split("\t")[1]) for line in out.splitlines()[1:]]
    elif fmt == "markdown":
        counts = [int(line.split("|")[2]) for line in out.splitlines()[2:]]
    else:
        counts = [int(GROUP_ROW.match(line).group(2)) for line in out.splitlines()[1:]]  # type: ignore[union-attr]
    assert sum(counts) == failed
    assert counts == sorted(counts, reverse=True)


def test_errors_takes_only_failed_and_no_paging(served: Served) -> None:
    for extra in (["--status", "completed"], ["--limit", "5"], ["--payloads"]):
        result = run_bulkctl("operations", "123", "--errors", *extra, env=served.env())
        assert result.code == 2, extra
        assert "--errors" in result.stderr
    assert not served.emulator.requests


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ('{"errorCode": "FUNDS_INSUFFICIENT", "message": "no money"}', "FUNDS_INSUFFICIENT"),
        ("<html>502 Bad Gateway</html>", "<html>502 Bad Gateway</html>"),
        ('["not", "an", "object"]', '["not", "an", "object"]'),
    ],
)
def test_a_payload_that_is_not_json_is_grouped_as_it_is(payload: str, code: str) -> None:
    assert failure_reason(payload)[0] == code
