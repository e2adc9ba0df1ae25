"""GitHub Actions: ``wait`` writes annotations and a step summary as GitHub documents them
(workflow commands, escaped; Markdown appended to $GITHUB_STEP_SUMMARY), and nothing the
server sends can start a workflow command of its own. The tests parse both."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from bulkctl.commands import wait as wait_cmd
from bulkctl.waiting.github import escape_data, escape_property, workflow_command
from tests.conftest import InProcess, LinkedClock, in_process

COMMAND = re.compile(r"^::(?P<name>[a-z-]+)(?: (?P<props>[^:]*))?::(?P<message>.*)$")
HOSTILE = "evil\n::set-output name=x::pwned\r\n::error::fake | **bold** 100%, a:b"


def unescape(text: str) -> str:
    for code, char in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")):
        text = text.replace(code, char)
    return text


def parse_command(line: str) -> tuple[str, dict[str, str], str]:
    """A workflow command line as GitHub's runner reads it."""
    match = COMMAND.match(line)
    assert match is not None, line
    props: dict[str, str] = {}
    for part in (match["props"] or "").split(","):
        if part:
            key, _, value = part.partition("=")
            props[key] = unescape(value)
    return match["name"], props, unescape(match["message"])


def bulk(bulk_id: str, status: str, done: int, failed: int) -> dict[str, Any]:
    return {
        "bulkId": bulk_id,
        "status": status,
        "operation": f"/transfers {HOSTILE}",
        "submittedItemsCount": done + failed,
        "operationStatusCounts": [
            {"status": "COMPLETED", "count": done},
            {"status": "FAILED", "count": failed},
        ],
    }


def operation(sequence: int, code: str) -> dict[str, Any]:
    return {
        "operationId": str(sequence),
        "sequence": sequence,
        "method": "POST",
        "path": "/transfers",
        "status": "FAILED",
        "responsePayload": json.dumps({"errorCode": code, "message": HOSTILE}),
    }


BULKS = {"1": bulk("1", "FAILED", 0, 3), "2": bulk("2", "PARTIALLY_COMPLETED", 2, 1)}
OPERATIONS = {
    "1": [operation(0, "DENIED"), operation(1, "DENIED"), operation(2, "A,B:C%")],
    "2": [operation(1, "DENIED")],
}


def answer(request: httpx.Request) -> httpx.Response:
    parts = request.url.path.split("/")
    if parts[-1] == "operations":
        ops = OPERATIONS[parts[-2]]
        return httpx.Response(
            200, json={"count": len(ops), "responseCount": len(ops), "operations": ops}
        )
    return httpx.Response(200, json=BULKS[parts[-1]])


def github_wait(tmp_path: Path, *flags: str, **options: Any) -> tuple[int, InProcess, Path]:
    summary = tmp_path / "summary.md"
    proc = in_process(tmp_path, env={"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)})
    proc.ctx.clock = LinkedClock(proc.clock)
    proc.ctx.transport = httpx.MockTransport(answer)
    parsed = wait_cmd.parse(proc.ctx, bulk_ids=["1", "2"], flags=wait_cmd.WaitFlags(**options))
    try:
        return wait_cmd.run(proc.ctx, parsed), proc, summary
    finally:
        proc.ctx.close()


def test_failed_and_partial_bulks_are_annotated_as_github_documents(tmp_path: Path) -> None:
    code, proc, _ = github_wait(tmp_path)
    assert code == 12
    commands = [parse_command(line) for line in proc.err.splitlines() if line.startswith("::")]
    assert [(name, props["title"]) for name, props, _ in commands] == [
        ("error", "bulk 1 FAILED"),
        ("warning", "bulk 2 PARTIALLY_COMPLETED"),
    ]
    error = commands[0][2]
    assert "FAILED, 0 of 3 operations COMPLETED, 3 FAILED" in error
    assert "2 DENIED, 1 A,B:C%" in error  # counts per errorCode, the code's own text intact
    assert "\n" not in error and "\r" not in error  # server text made safe first


def test_no_line_can_begin_with_a_command_the_server_wrote(tmp_path: Path) -> None:
    _, proc, summary = github_wait(tmp_path, junit=str(tmp_path / "r.xml"))
    for line in proc.err.splitlines() + summary.read_text().splitlines():
        if line.startswith("::"):
            assert parse_command(line)[0] in ("error", "warning"), line
    assert "::set-output" not in "\n".join(
        line[:14] for line in proc.err.splitlines() + summary.read_text().splitlines()
    )


def test_the_step_summary_is_a_markdown_table_appended_once(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    code, _, _ = github_wait(tmp_path)
    assert code == 12
    text = summary.read_text()
    assert text.startswith("earlier step\n")  # appended, never replaced
    assert text.count("### bulkctl wait") == 1
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    header, *body = (re.split(r"(?<!\\)\|", row)[1:-1] for row in rows)
    assert [h.strip() for h in header] == [
        "Bulk",
        "Operation",
        "Status",
        "Done",
        "Failed",
        "Errors",
    ]
    assert [(r[0].strip(), r[2].strip(), r[4].strip()) for r in body] == [
        ("1", "FAILED", "3"),
        ("2", "PARTIALLY_COMPLETED", "1"),
    ]
    assert all(len(r) == 6 for r in body)  # the server's '|' never splits a cell


def test_no_step_summary_leaves_the_file_alone(tmp_path: Path) -> None:
    code, proc, summary = github_wait(tmp_path, no_step_summary=True)
    assert code == 12 and not summary.exists()
    assert "::error" in proc.err  # the annotations are still written


def test_accepting_partial_bulks_names_them_and_leaves_failed_ones(tmp_path: Path) -> None:
    code, proc, _ = github_wait(tmp_path, accept=["partially_completed"])
    assert code == 12  # the FAILED bulk still fails the step
    assert "accepted (--accept): 2 PARTIALLY_COMPLETED" in proc.err


@pytest.mark.parametrize(
    ("text", "data", "prop"),
    [
        ("100%", "100%25", "100%25"),
        ("a\r\nb", "a%0D%0Ab", "a%0D%0Ab"),
        ("a:b,c", "a:b,c", "a%3Ab%2Cc"),
    ],
)
def test_workflow_command_escaping(text: str, data: str, prop: str) -> None:
    assert escape_data(text) == data
    assert escape_property(text) == prop
    assert workflow_command("warning", text, title=text) == f"::warning title={prop}::{data}"
