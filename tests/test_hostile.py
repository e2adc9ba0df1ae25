"""Valid but hostile answers, generated: every command shows what it got or fails with its own
error, and none hangs; an answer with a number outside the spec's format, or for another bulk,
is a malformed answer (exit 1). Runs in-process with a scripted transport and a clock that
never sleeps."""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bulkctl.actions import ActionOptions, refusal, run_action
from bulkctl.api.records import (
    BULK_STATUSES,
    OPERATION_STATUSES,
    ShapeError,
    parse_bulk,
    parse_bulk_page,
    parse_operation,
    parse_operation_page,
)
from bulkctl.cli.options import choose_output
from bulkctl.commands.bulk.operations import OperationsOptions
from bulkctl.commands.bulk.operations import run as run_operations
from bulkctl.commands.bulk.show import ShowOptions
from bulkctl.commands.bulk.show import run as run_show
from bulkctl.commands.list import ListOptions
from bulkctl.commands.list import run as run_list
from bulkctl.commands.summary import SummaryOptions
from bulkctl.commands.summary import run as run_summary
from bulkctl.commands.wait import WaitOptions
from bulkctl.commands.wait import run as run_wait
from bulkctl.context import Clock, Context, GlobalOptions
from bulkctl.errors import BulkctlError, ExitCode, MalformedResponse
from bulkctl.lists.filters import BulkFilter
from bulkctl.output.render import (
    BULK_ALL_FIELDS,
    BULK_FIELDS,
    FORMATS,
    OPERATION_ALL_FIELDS,
    OPERATION_FIELDS,
)
from bulkctl.waiting.polling import FINAL_CODES


class FakeClock(Clock):
    """Sleeping moves time forward at once, so waits end by their timeout immediately."""

    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def now(self) -> float:
        return self.t

    def monotonic(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += max(seconds, 0.001)


# numbers a spec-abiding server sends, often; and anything else JSON can hold, less often
numbers = st.one_of(
    st.none(),
    st.integers(0, 2**40),
    st.integers(0, 2**40),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
)
texts = st.one_of(st.none(), st.text(max_size=40))
statuses = st.one_of(st.sampled_from(BULK_STATUSES), st.text(max_size=12), st.none())
bulks = st.fixed_dictionaries(
    {},
    optional={
        "bulkId": st.one_of(st.just("5"), st.text(max_size=20), st.integers(), st.none()),
        "status": statuses,
        "submittedItemsCount": numbers,
        "executionStart": numbers,
        "executionFinish": numbers,
        "operation": texts,
        "mode": st.one_of(st.sampled_from(["ON_FAILURE_STOP", "ON_FAILURE_CONTINUE"]), texts),
        "operationStatusCounts": st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "status": st.one_of(st.sampled_from(OPERATION_STATUSES), texts),
                    "count": numbers,
                },
            ),
            max_size=6,
        ),
        "extra": st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
    },
)
operations = st.fixed_dictionaries(
    {},
    optional={
        "operationId": texts,
        "sequence": numbers,
        "method": texts,
        "path": texts,
        "status": st.one_of(st.sampled_from(OPERATION_STATUSES), texts),
        "requestPayload": texts,
        "responsePayload": st.one_of(texts, st.just('{"errorCode": "X", "message": "m"}')),
    },
)
pages = st.fixed_dictionaries(
    {"bulkProcesses": st.lists(bulks, max_size=8)},
    optional={"count": numbers, "responseCount": numbers},
)
operation_pages = st.fixed_dictionaries(
    {"operations": st.lists(operations, max_size=8)},
    optional={"count": numbers, "responseCount": numbers},
)


def context(tmp_path: Path, answer: Any) -> Context:
    def handler(request: httpx.Request) -> httpx.Response:
        status, body = answer(request)
        content = b"" if body is None else json.dumps(body).encode()
        return httpx.Response(status, content=content, headers={"content-type": "application/json"})

    return Context(
        stdout=io.StringIO(),
        stderr=io.StringIO(),
        stdin=io.StringIO(),
        env={
            "BULKCTL_BASE_URL": "https://api.example.com/multi",
            "BULKCTL_API_KEY": "k",
            "BULKCTL_AUTH_TOKEN": "t",
        },
        config_dir=tmp_path / "cfg",
        state_dir=tmp_path / "state",
        clock=FakeClock(),
        options=GlobalOptions(quiet=True),
        transport=httpx.MockTransport(handler),
    )


def output_choice(fmt: str | None, available: Any, default: Any, tty: bool = False) -> Any:
    return choose_output(
        output=fmt,
        json_flag=False,
        jsonl_flag=False,
        fields_spec=None,
        header=True,
        stdout_tty=tty,
        available=available,
        default_fields=default,
    )


def survives(ctx: Context, run: Any) -> BulkctlError | None:
    """Runs ``run``; the bulkctl error it raised, if any (anything else fails the test)."""
    try:
        run()
    except BulkctlError as exc:
        return exc
    finally:
        ctx.close()
    return None


def malformed(parse: Any, answer: Any) -> bool:
    """Whether the parser refuses the answer (the command then fails with exit 1)."""
    try:
        parse(answer)
    except ShapeError:
        return True
    return False


def assert_malformed(error: BulkctlError | None) -> None:
    assert isinstance(error, MalformedResponse), error
    assert error.exit_code == ExitCode.ERROR


def out(ctx: Context) -> str:
    value = ctx.stdout.getvalue()  # type: ignore[attr-defined]
    assert isinstance(value, str)
    return value


def unique(raws: list[dict[str, Any]], parse: Any) -> list[dict[str, Any]]:
    """The records a listing shows when the server repeats them: each key once, first seen."""
    seen: set[str] = set()
    kept = []
    for raw in raws:
        key = parse(raw).key
        if key not in seen:
            seen.add(key)
            kept.append(raw)
    return kept


def rows_shown(fmt: str, text: str) -> int | None:
    """How many records a listing's output holds (None for the table, made for eyes)."""
    if fmt == "json":
        return len(json.loads(text))
    if fmt == "jsonl":
        return len(text.split("\n")) - 1
    if fmt == "csv":
        return len(list(csv.reader(io.StringIO(text, newline="")))) - 1
    if fmt == "plain":
        return len(text.split("\n")) - 2  # a header, and the text ends with a newline
    if fmt == "markdown":
        return len(text.split("\n")) - 3  # a header and its rule; the text ends with a newline
    return None


SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@given(pages, st.sampled_from(FORMATS), st.booleans())
@SETTINGS
def test_list_survives_any_page(
    tmp_path: Path, page: dict[str, Any], fmt: str, everything: bool
) -> None:
    ctx = context(tmp_path, lambda request: (200, page))
    output = output_choice(fmt, BULK_ALL_FIELDS, BULK_FIELDS)
    options = ListOptions(
        statuses=["RUNNING", "PAUSED"],
        wanted=None if everything else 150,
        offset=0,
        output=output,
        filters=BulkFilter(operation="a", since_ms=0.0),
    )
    error = survives(ctx, lambda: run_list(ctx, options))
    if malformed(parse_bulk_page, page):
        assert_malformed(error)
        assert fmt != "json" or out(ctx) == ""
        return
    # both status streams get this page, at every offset: each matching record once, in order
    wanted = [
        raw
        for raw in unique(page["bulkProcesses"], parse_bulk)
        if options.filters.matches(parse_bulk(raw))
    ]
    if error is not None:
        assert fmt != "json" or out(ctx) == ""  # --json is whole or nothing
        return
    if fmt in ("json", "jsonl"):
        shown = (
            json.loads(out(ctx))
            if fmt == "json"
            else list(map(json.loads, out(ctx).split("\n")[:-1]))
        )
        assert shown == wanted
    else:
        assert rows_shown(fmt, out(ctx)) in (None, len(wanted))


@given(bulks, st.sampled_from(FORMATS))
@SETTINGS
def test_show_survives_any_bulk(tmp_path: Path, bulk: dict[str, Any], fmt: str) -> None:
    ctx = context(tmp_path, lambda request: (200, bulk))
    output = output_choice(fmt, BULK_ALL_FIELDS, BULK_ALL_FIELDS)
    error = survives(ctx, lambda: run_show(ctx, ShowOptions("5", output)))
    if malformed(lambda answer: parse_bulk(answer, "5"), bulk):
        assert_malformed(error)
        assert out(ctx) == ""
        return
    assert error is None
    shown = out(ctx)
    if fmt == "json":
        assert json.loads(shown) == bulk  # the object exactly as the server sent it
    elif fmt == "jsonl":
        assert [json.loads(line) for line in shown.split("\n")[:-1]] == [bulk]
    elif fmt == "plain":  # one "field<TAB>value" line per field
        assert [line.split("\t")[0] for line in shown.split("\n")[:-1]] == [
            f.name for f in BULK_ALL_FIELDS
        ]
    elif fmt == "csv":
        assert len(list(csv.reader(io.StringIO(shown, newline="")))) == 2
    bulk_id = bulk.get("bulkId")
    if isinstance(bulk_id, str) and bulk_id.isalnum() and bulk_id.isascii():
        assert bulk_id in shown


@given(bulks)
@SETTINGS
def test_show_on_a_terminal_survives_any_bulk(tmp_path: Path, bulk: dict[str, Any]) -> None:
    ctx = context(tmp_path, lambda request: (200, bulk))
    ctx.stdout_tty = True
    output = output_choice(None, BULK_ALL_FIELDS, BULK_ALL_FIELDS, tty=True)
    error = survives(ctx, lambda: run_show(ctx, ShowOptions("5", output)))
    if malformed(lambda answer: parse_bulk(answer, "5"), bulk):
        assert_malformed(error)
        return
    assert error is None
    shown = out(ctx)
    labels = [f.header.lower() for f in BULK_ALL_FIELDS if f.name != "operationStatusCounts"]
    lines = shown.splitlines()
    at = [  # the line that a field's label starts: values may hold any text, even a label
        next((i for i, line in enumerate(lines) if (line + " ").startswith(label + " ")), -1)
        for label in labels
    ]
    assert -1 not in at and at == sorted(at), "a field is missing or out of order"
    assert "progress" in shown
    status = bulk.get("status")
    if isinstance(status, str) and re.fullmatch(r"[A-Z_]+", status):
        assert status in shown


@given(operation_pages, st.sampled_from(FORMATS), st.booleans())
@SETTINGS
def test_operations_survive_any_page(
    tmp_path: Path, page: dict[str, Any], fmt: str, payloads: bool
) -> None:
    ctx = context(tmp_path, lambda request: (200, page))
    output = output_choice(fmt, OPERATION_ALL_FIELDS, OPERATION_FIELDS)
    options = OperationsOptions(
        bulk_id="5",
        statuses=[],
        sequence=None,
        wanted=None,
        offset=0,
        output=output,
        payloads=payloads,
    )
    error = survives(ctx, lambda: run_operations(ctx, options))
    if malformed(parse_operation_page, page):
        assert_malformed(error)
        assert fmt != "json" or out(ctx) == ""
        return
    wanted = unique(page["operations"], parse_operation)
    if error is not None:
        assert fmt != "json" or out(ctx) == ""
        return
    if fmt in ("json", "jsonl"):
        shown = (
            json.loads(out(ctx))
            if fmt == "json"
            else list(map(json.loads, out(ctx).split("\n")[:-1]))
        )
        assert shown == wanted
    else:
        assert rows_shown(fmt, out(ctx)) in (None, len(wanted))


@given(bulks, st.sampled_from([200, 404, 409, 503]))
@SETTINGS
def test_wait_survives_any_bulk_and_ends_by_its_timeout(
    tmp_path: Path, bulk: dict[str, Any], status: int
) -> None:
    # a state folder of its own: examples sharing one would share the pacer's record, and
    # a pacer wait past the deadline is (rightly) a timeout
    ctx = context(
        tmp_path / uuid.uuid4().hex,
        lambda request: (status, bulk if status == 200 else {"errorCode": "X"}),
    )
    code: list[int] = []
    error = survives(
        ctx, lambda: code.append(run_wait(ctx, WaitOptions(["5"], timeout=30, interval=5)))
    )
    assert ctx.clock.monotonic() < 1_800_000_000.0 + 200  # type: ignore[operator]
    # a malformed answer is ridden out like any passing error: the wait ends by its timeout
    readable = status == 200 and not malformed(lambda answer: parse_bulk(answer, "5"), bulk)
    final = parse_bulk(bulk).status if readable else None
    if status in (200, 503):  # an answer, or one to ride out: the bulk's outcome or the timeout
        assert error is None
        assert code == [FINAL_CODES.get(final or "", ExitCode.TIMEOUT)]
    else:
        assert error is not None
        assert error.exit_code == {404: ExitCode.NOT_FOUND, 409: ExitCode.CONFLICT}[status]


@given(numbers, st.sampled_from(["json", "table", "markdown", "plain", "csv"]))
@SETTINGS
def test_summary_survives_any_count(tmp_path: Path, count: Any, fmt: str) -> None:
    ctx = context(tmp_path, lambda request: (200, {"count": count, "bulkProcesses": []}))
    options = SummaryOptions(
        statuses=list(BULK_STATUSES), fail_on=["FAILED"], fmt=fmt, filters=BulkFilter()
    )
    code: list[int] = []
    error = survives(ctx, lambda: code.append(run_summary(ctx, options)))
    if malformed(parse_bulk_page, {"count": count}):  # a float, negative, beyond int32
        assert_malformed(error)
        assert code == [] and out(ctx) == ""
        return
    assert error is None
    expected = count
    failing = expected is not None and expected > 0
    assert code == [ExitCode.CHECK_FAILED if failing else ExitCode.OK]
    shown = out(ctx)
    if fmt == "json":
        assert json.loads(shown) == dict.fromkeys(BULK_STATUSES, expected)
    elif fmt in ("plain", "csv"):
        rows = [line.split("," if fmt == "csv" else "\t") for line in shown.splitlines()[1:]]
        assert [r[0] for r in rows] == list(BULK_STATUSES)
        assert {r[1] for r in rows} == {"" if expected is None else str(expected)}
    else:
        assert all(s in shown for s in (*BULK_STATUSES, "TOTAL"))


@given(
    st.sampled_from([200, 201, 202, 204, 409, 400]),
    st.one_of(st.none(), bulks, st.just({"errorCode": "INVALID_STATE"})),
)
@SETTINGS
def test_actions_survive_any_answer(tmp_path: Path, status: int, body: Any) -> None:
    ctx = context(tmp_path, lambda request: (status, body))
    code: list[int] = []
    options = ActionOptions("pause", ["5", "6"], yes=True, as_json=True)
    assert survives(ctx, lambda: code.append(run_action(ctx, options))) is None

    # each bulk is read first (the same answer): an error, no bulk, an answer for another
    # bulk, or a status that rules pause out ends there; otherwise the POST gets the same
    # answer, a success
    def expected(bulk_id: str) -> int:
        if status >= 300:
            return {409: ExitCode.CONFLICT, 400: ExitCode.USAGE}[status]
        try:
            read = parse_bulk(None if status == 204 else body, bulk_id)  # a 204 has no body
        except ShapeError:
            return ExitCode.ERROR
        return ExitCode.OK if refusal("pause", read, bulk_id) is None else ExitCode.CONFLICT

    assert code == [max(expected("5"), expected("6"))]
    results = json.loads(out(ctx))
    assert [(r["bulkId"], r["ok"], r["exitCode"]) for r in results] == [
        ("5", expected("5") == ExitCode.OK, expected("5")),
        ("6", expected("6") == ExitCode.OK, expected("6")),
    ]


@pytest.mark.parametrize("command", ["show", "list"])
@pytest.mark.parametrize(
    "hostile",
    ["\x1b[31mred", "\x1b]0;new title\x07", "\x9b31mred"],
    ids=["CSI colour", "OSC window title", "8-bit CSI"],
)
def test_server_text_never_reaches_a_terminal_as_control(
    tmp_path: Path, command: str, hostile: str
) -> None:
    bulk = {"bulkId": "5", "status": hostile, "operation": hostile, "mode": hostile}
    ctx = context(tmp_path, lambda request: (200, {"count": 1, "bulkProcesses": [bulk]} | bulk))
    ctx.stdout_tty = True
    ctx.env = {**ctx.env, "NO_COLOR": "1"}
    if command == "show":
        run_show(
            ctx, ShowOptions("5", output_choice(None, BULK_ALL_FIELDS, BULK_ALL_FIELDS, tty=True))
        )
    else:
        output = output_choice(None, BULK_ALL_FIELDS, BULK_FIELDS, tty=True)
        run_list(ctx, ListOptions(statuses=[], wanted=5, offset=0, output=output))
    ctx.close()
    assert hostile[:3] not in out(ctx)


def test_wait_on_a_terminal_shows_bracketed_error_text_as_text(tmp_path: Path) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused [/]")

    ctx = context(tmp_path, lambda request: (200, {}))
    ctx.transport = httpx.MockTransport(refuse)
    ctx.stderr_tty = True
    ctx.options.quiet = False
    with pytest.raises(BulkctlError) as refused:  # refused before any success: exit 6 at once
        run_wait(ctx, WaitOptions(["5"], timeout=10, interval=5))
    ctx.close()
    assert refused.value.exit_code == 6
    ctx.error(refused.value.lines())
    shown = ctx.stderr.getvalue()  # type: ignore[attr-defined]
    assert "Connection refused [/]" in shown  # the errno goes; the brackets stay text
