"""Numbers from a hostile server are parsed once, strictly: a count that is not an integer,
a timestamp no date can hold, NaN or Infinity, a negative count, or an answer for another
bulk is a malformed answer (exit 1) naming the field, never an internal error, never a wrong
result. Each finding of issue 20 runs the real bulkctl process against a loopback server
that answers with the raw JSON text given."""

from __future__ import annotations

import json
import os
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bulkctl.api.records import ShapeError, parse_bulk, parse_bulk_page, parse_operation_page
from bulkctl.emulator.app import Request, Response
from tests.conftest import Spawned, bulkctl_command, logged_in, run_bulkctl, run_main, serving

BULK = (
    '{{"bulkId": "{id}", "status": "{status}", "operation": "/transfers", '
    '"submittedItemsCount": {items}, "executionStart": {start}}}'
)


def bulk_text(
    *, id: str = "5", status: str = "RUNNING", items: str = "3", start: str = "1700000000000"
) -> str:
    return BULK.format(id=id, status=status, items=items, start=start)


class RawAnswers:
    """GET /bulks answers a page holding ``bulk`` (its count ``count``), GET /bulks/{id} the
    bulk itself, an operations listing none: all as raw JSON text, so NaN and 400 digits go
    out as they are."""

    def __init__(self, bulk: str, count: str = "1") -> None:
        self.bulk = bulk
        self.count = count
        self.requests: list[str] = []

    def handle(self, request: Request) -> Response:
        self.requests.append(request.url)
        path = request.url.split("?")[0]
        if path.endswith("/operations"):
            body = '{"count": 0, "operations": [], "responseCount": 0}'
        elif path.endswith("/bulks"):
            body = f'{{"count": {self.count}, "bulkProcesses": [{self.bulk}], "responseCount": 1}}'
        else:
            body = self.bulk
        return Response(200, body.encode(), {"content-type": "application/json"})


@contextmanager
def answering(bulk: str, count: str = "1") -> Iterator[dict[str, str]]:
    with serving(RawAnswers(bulk, count)) as root:  # type: ignore[arg-type]
        yield logged_in(root + "/multi")


def assert_malformed(code: int, err: str, field: str) -> None:
    assert code == 1, err
    assert f"'{field}'" in err, err
    assert "internal error" not in err and "Traceback" not in err, err


@pytest.mark.parametrize(
    "command", [["list"], ["list", "--json"], ["show", "5"], ["show", "5", "-o", "csv"]]
)
def test_an_item_count_of_minus_minus_5_is_a_malformed_answer_naming_it(
    command: list[str],
) -> None:
    with answering(bulk_text(items='"--5"')) as env:
        result = run_bulkctl(*command, env=env)
    assert_malformed(result.code, result.stderr, "submittedItemsCount")
    assert result.stdout == ""


def test_watch_names_the_field_of_a_malformed_answer_and_goes_on_watching() -> None:
    with answering(bulk_text(items='"--5"')) as env, Spawned("watch", "5", env=env) as watch:
        # a note on stderr says what is wrong with the answer; before, watch died at once
        for _ in range(200):
            if "submittedItemsCount" in "".join(watch.err) or watch.proc.poll() is not None:
                break
            time.sleep(0.1)
        watch.interrupt()
        code, _, err = watch.finish()
    assert "submittedItemsCount" in err and "still waiting" in err, err
    assert "internal error" not in err and "Traceback" not in err, err
    assert code == 130, err  # it went on watching until interrupted


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_nan_and_infinity_are_refused_so_json_output_stays_json(value: str) -> None:
    with answering(bulk_text(items=value)) as env:
        result = run_bulkctl("list", "--json", env=env)
    assert result.code == 1, result.stderr
    assert "not JSON" in result.stderr
    assert result.stdout == ""  # nothing rather than a document no JSON parser reads


def test_nan_in_a_field_bulkctl_does_not_read_is_refused_too() -> None:
    bulk = '{"bulkId": "5", "status": "RUNNING", "extra": {"ratio": NaN}}'
    with answering(bulk) as env:
        result = run_bulkctl("list", "--jsonl", env=env)
    assert result.code == 1 and result.stdout == ""


def test_a_negative_count_makes_summary_fail_rather_than_pass_its_check() -> None:
    with answering(bulk_text(), count="-2147483648") as env:
        result = run_bulkctl("summary", "--fail-on", "FAILED", env=env)
    assert_malformed(result.code, result.stderr, "count")
    assert result.stdout == ""


def test_show_of_one_bulk_answered_with_another_is_a_malformed_answer() -> None:
    with answering(bulk_text(id="124")) as env:
        result = run_bulkctl("show", "123", env=env)
    assert_malformed(result.code, result.stderr, "bulkId")
    assert "another bulk" in result.stderr
    assert "124" in result.stderr and result.stdout == ""


def test_an_answer_for_the_id_asked_is_shown() -> None:
    with answering(bulk_text(id="123")) as env:
        result = run_bulkctl("show", "123", "-o", "plain", env=env)
    assert result.code == 0, result.stderr
    assert "bulkId\t123" in result.stdout


def test_a_400_digit_start_on_a_terminal_is_named_not_an_overflow(tmp_path: Path) -> None:
    pexpect = pytest.importorskip("pexpect")
    with answering(bulk_text(start="9" * 400)) as env:
        command = bulkctl_command()
        child = pexpect.spawn(
            command[0],
            [*command[1:], "wait", "5", "--timeout", "2s", "--interval", "1s"],
            env=dict(os.environ, **env),
            encoding="utf-8",
            timeout=30,
        )
        child.expect(pexpect.EOF)
        child.close()
    shown = child.before
    assert "executionStart" in shown, shown
    assert "OverflowError" not in shown and "internal error" not in shown, shown
    assert child.exitstatus == 124, shown  # a malformed answer is ridden out to the timeout


def test_wait_junit_writes_its_report_when_the_answers_are_malformed(tmp_path: Path) -> None:
    report = tmp_path / "report.xml"
    with answering(bulk_text(items='"--5"')) as env:
        result = run_bulkctl(
            "wait", "5", "--timeout", "2s", "--interval", "1s", "--junit", str(report), env=env
        )
    assert result.code == 124, result.stderr
    assert "submittedItemsCount" in result.stderr
    assert "internal error" not in result.stderr
    suite = ET.parse(report).getroot()
    assert "5" in ET.tostring(suite, encoding="unicode")


EARLIEST, LATEST = -62_135_510_400_000, 253_402_128_000_000  # 0001-01-02, 9999-12-30 UTC


@pytest.mark.parametrize(
    ("start", "ok"),
    [(EARLIEST, True), (LATEST, True), (EARLIEST - 1, False), (LATEST + 1, False)],
    ids=["0001-01-02", "9999-12-30", "a millisecond before", "a millisecond after"],
)
def test_a_timestamp_must_be_a_date_and_the_dates_at_the_ends_are_shown(
    start: int, ok: bool
) -> None:
    bulk = bulk_text(status="COMPLETED", start=str(start)).replace(
        "}", f', "executionFinish": {start}}}'
    )
    with answering(bulk) as env:
        for fmt in ("table", "wide", "plain", "csv", "markdown", "json"):
            for command in (["show", "5"], ["list", "--all"]):
                result = run_main(*command, "-o", fmt, env=env)
                if ok:
                    assert result.code == 0, (command, fmt, result.stderr)
                    assert "internal error" not in result.stderr
                else:
                    assert_malformed(result.code, result.stderr, "executionStart")


def test_the_dates_at_the_ends_are_shown_on_a_terminal() -> None:
    pexpect = pytest.importorskip("pexpect")
    bulk = bulk_text(start=str(EARLIEST)).replace("}", f', "executionFinish": {LATEST}}}')
    with answering(bulk) as env:
        command = bulkctl_command()
        for args in (["show", "5"], ["list", "-o", "wide"]):
            child = pexpect.spawn(
                command[0], [*command[1:], *args], env=dict(os.environ, **env), timeout=30
            )
            child.expect(pexpect.EOF)
            child.close()
            shown = child.before.decode()
            assert child.exitstatus == 0, shown
            assert "0001-01-0" in shown and "9999-12-" in shown, shown


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("submittedItemsCount", '"--5"'),
        ("submittedItemsCount", '"5"'),
        ("submittedItemsCount", "true"),
        ("submittedItemsCount", "5.0"),
        ("submittedItemsCount", "-1"),
        ("submittedItemsCount", str(2**63)),
        ("executionStart", "9" * 400),
        ("executionFinish", "[1]"),
        ("operationStatusCounts[0].count", "-2147483648"),
    ],
)
def test_every_integer_field_is_an_integer_within_its_format(field: str, value: str) -> None:
    name = field.split(".")[-1]
    bulk = json.loads(bulk_text())
    if field.startswith("operationStatusCounts"):
        bulk["operationStatusCounts"] = [{"status": "FAILED", "count": json.loads(value)}]
    else:
        bulk[name] = json.loads(value)
    with pytest.raises(ShapeError, match=re.escape(f"'{field}'")):
        parse_bulk(bulk, "5")
    with pytest.raises(ShapeError, match=re.escape(f"bulkProcesses[0]: '{field}'")):
        parse_bulk_page({"bulkProcesses": [bulk]})


@pytest.mark.parametrize("value", ['"-1"', "-1", "2147483648", "1.5", "false"])
def test_a_page_count_is_a_non_negative_int32(value: str) -> None:
    with pytest.raises(ShapeError, match="'count'"):
        parse_operation_page({"operations": [], "count": json.loads(value)})
    with pytest.raises(ShapeError, match="'sequence'"):
        parse_operation_page({"operations": [{"sequence": 2**31}]})


def test_an_answer_naming_another_bulk_by_id_or_bulk_id_is_refused() -> None:
    assert parse_bulk({"bulkId": "5"}, "5").bulk_id == "5"
    assert parse_bulk({}, "5").bulk_id is None  # no id said: nothing contradicts the ask
    for other in ({"bulkId": "6"}, {"id": "6"}, {"bulkId": "5", "id": 6}):
        with pytest.raises(ShapeError, match="another bulk"):
            parse_bulk(other, "5")
