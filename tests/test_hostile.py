"""Valid but hostile answers, generated: every command shows what it got or fails with its own
error, and none hangs. Runs in-process with a scripted transport and a clock that never sleeps."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bulkctl.actions import ActionOptions, run_action
from bulkctl.api.records import BULK_STATUSES, OPERATION_STATUSES
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
from bulkctl.errors import BulkctlError
from bulkctl.filters import BulkFilter
from bulkctl.options import choose_output
from bulkctl.render import (
    BULK_ALL_FIELDS,
    BULK_FIELDS,
    FORMATS,
    OPERATION_ALL_FIELDS,
    OPERATION_FIELDS,
)


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


numbers = st.one_of(
    st.none(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False, allow_infinity=False)
)
texts = st.one_of(st.none(), st.text(max_size=40))
statuses = st.one_of(st.sampled_from(BULK_STATUSES), st.text(max_size=12), st.none())
bulks = st.fixed_dictionaries(
    {},
    optional={
        "bulkId": st.one_of(st.text(max_size=20), st.integers(), st.none()),
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


def survives(ctx: Context, run: Any) -> None:
    try:
        run()
    except BulkctlError:
        pass
    finally:
        ctx.close()


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
    survives(ctx, lambda: run_list(ctx, options))


@given(bulks, st.sampled_from(FORMATS))
@SETTINGS
def test_show_survives_any_bulk(tmp_path: Path, bulk: dict[str, Any], fmt: str) -> None:
    ctx = context(tmp_path, lambda request: (200, bulk))
    output = output_choice(fmt, BULK_ALL_FIELDS, BULK_ALL_FIELDS)
    survives(ctx, lambda: run_show(ctx, ShowOptions("5", output)))


@given(bulks)
@SETTINGS
def test_show_on_a_terminal_survives_any_bulk(tmp_path: Path, bulk: dict[str, Any]) -> None:
    ctx = context(tmp_path, lambda request: (200, bulk))
    ctx.stdout_tty = True
    output = output_choice(None, BULK_ALL_FIELDS, BULK_ALL_FIELDS, tty=True)
    survives(ctx, lambda: run_show(ctx, ShowOptions("5", output)))


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
    survives(ctx, lambda: run_operations(ctx, options))


@given(bulks, st.sampled_from([200, 404, 409, 503]))
@SETTINGS
def test_wait_survives_any_bulk_and_ends_by_its_timeout(
    tmp_path: Path, bulk: dict[str, Any], status: int
) -> None:
    ctx = context(tmp_path, lambda request: (status, bulk if status == 200 else {"errorCode": "X"}))
    code: list[int] = []
    survives(ctx, lambda: code.append(run_wait(ctx, WaitOptions(["5"], timeout=30, interval=5))))
    assert ctx.clock.monotonic() < 1_800_000_000.0 + 200  # type: ignore[operator]


@given(numbers, st.sampled_from(["json", "table", "markdown", "plain", "csv"]))
@SETTINGS
def test_summary_survives_any_count(tmp_path: Path, count: Any, fmt: str) -> None:
    ctx = context(tmp_path, lambda request: (200, {"count": count, "bulkProcesses": []}))
    options = SummaryOptions(
        statuses=list(BULK_STATUSES), fail_on=["FAILED"], fmt=fmt, filters=BulkFilter()
    )
    survives(ctx, lambda: run_summary(ctx, options))


@given(
    st.sampled_from([200, 201, 202, 204, 409, 400]),
    st.one_of(st.none(), bulks, st.just({"errorCode": "INVALID_STATE"})),
)
@SETTINGS
def test_actions_survive_any_answer(tmp_path: Path, status: int, body: Any) -> None:
    ctx = context(tmp_path, lambda request: (status, body))
    survives(ctx, lambda: run_action(ctx, ActionOptions("pause", ["5", "6"], as_json=True)))


def test_wait_on_a_terminal_shows_bracketed_error_text_as_text(tmp_path: Path) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused [/]")

    ctx = context(tmp_path, lambda request: (200, {}))
    ctx.transport = httpx.MockTransport(refuse)
    ctx.stderr_tty = True
    ctx.options.quiet = False
    code = run_wait(ctx, WaitOptions(["5"], timeout=10, interval=5))
    ctx.close()
    assert code == 124
    shown = ctx.stderr.getvalue()  # type: ignore[attr-defined]
    assert "[Errno 111] Connection refused [/]" in shown
