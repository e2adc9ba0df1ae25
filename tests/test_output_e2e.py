"""Issue 22's output through real pipes: empty results said on stderr (stdout as before),
wait's next step, list's DONE column at no extra request, the describe view's safety."""

from __future__ import annotations

import json
from pathlib import Path

from bulkctl.cli.options import PagingFlags
from bulkctl.commands import list as list_cmd
from bulkctl.output.describe import operation_block, pretty_payload
from tests.conftest import Served, in_process, run_bulkctl


def test_an_empty_listing_says_so_on_stderr_and_keeps_stdout(served: Served) -> None:
    env = served.env()
    result = run_bulkctl("list", "--operation", "/nothing_of_the_kind", "--json", env=env)
    assert result.code == 0
    assert json.loads(result.stdout) == []  # as before
    assert result.stderr.strip() == "no bulks match"
    result = run_bulkctl("list", "--operation", "/nothing_of_the_kind", "-o", "csv", env=env)
    assert result.code == 0 and "no bulks match" in result.stderr
    assert (
        result.stdout.strip()
        == "bulkId,status,operation,submittedItemsCount,mode,executionStart,executionFinish"
    )
    quiet = run_bulkctl("--quiet", "list", "--operation", "/nothing_of_the_kind", env=env)
    assert quiet.code == 0 and quiet.stderr == ""


def test_no_operations_match_says_so(served: Served) -> None:
    bulk = next(b for b in served.state.bulks.values() if b.status == "COMPLETED")
    result = run_bulkctl("operations", bulk.bulk_id, "-s", "failed", "--jsonl", env=served.env())
    assert result.code == 0 and result.stdout == ""
    assert f"no operations match in bulk {bulk.bulk_id}" in result.stderr


def test_wait_ends_with_the_next_step_and_the_profile() -> None:
    listed = run_bulkctl(
        "--profile", "demo", "list", "-s", "partially_completed", "-n", "1", "--no-header"
    )
    bulk_id = listed.stdout.split()[0]
    result = run_bulkctl("--profile", "demo", "wait", bulk_id)
    assert result.code == 11  # PARTIALLY_COMPLETED, as documented
    lines = result.stderr.strip().split("\n")
    assert lines[-2] == f"next: bulkctl --profile demo show {bulk_id}"
    assert lines[-1] == f"then: bulkctl --profile demo rerun {bulk_id} --failed"


def test_wait_of_a_completed_bulk_has_no_next_step() -> None:
    listed = run_bulkctl("--profile", "demo", "list", "-s", "completed", "-n", "1", "--no-header")
    result = run_bulkctl("--profile", "demo", "wait", listed.stdout.split()[0])
    assert result.code == 0 and "next:" not in result.stderr


def test_the_done_column_costs_no_request(tmp_path: Path) -> None:
    """list's table on a terminal shows DONE; the listing carries no counts, so '…' for
    running and paused bulks, and exactly the requests of the listing itself."""
    proc = in_process(tmp_path, tty=True, env={"COLUMNS": "200", "NO_COLOR": "1"})
    proc.emulator.reset_counts()
    options = list_cmd.parse(proc.ctx, paging=PagingFlags(limit=60))
    assert list_cmd.run(proc.ctx, options) == 0
    assert proc.emulator.request_count == 1  # one page, no details read
    header, *rows = proc.ctx.stdout.getvalue().strip().split("\n")  # type: ignore[attr-defined]
    assert header.split()[:6] == ["BULK", "ID", "STATUS", "OPERATION", "DONE", "ITEMS"]
    moving = [r for r in rows if r.split()[1] in ("RUNNING", "PAUSED")]
    assert moving and all(r.split()[3] == "…" for r in moving)


def test_the_describe_view_makes_server_text_safe_and_wraps_it() -> None:
    record = {
        "sequence": 3,
        "status": "FAILED",
        "method": "POST",
        "path": "/transfers\x1b[2J",
        "operationId": "30003",
        "requestPayload": json.dumps({"note": "x" * 150, "evil": "\x1b]0;pwned\x07\u202e"}),
        "responsePayload": '{"errorCode": "FUNDS_INSUFFICIENT", "message": "no"}',
    }
    lines = operation_block(record, 80, color=False)
    text = "\n".join(lines)
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "\\x1b[2J" in text and "\\u{202E}" in text.upper().replace("\\U{", "\\u{")
    assert all(len(line) <= 80 for line in lines)
    assert "  error code   FUNDS_INSUFFICIENT" in lines
    assert "".join(line.strip() for line in lines).count("x" * 150) == 1  # whole, wrapped
    assert pretty_payload("not json\nsecond") == ["not json", "second"]
    assert pretty_payload(None) == ["(none)"]
