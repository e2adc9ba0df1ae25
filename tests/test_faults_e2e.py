"""Keep working under faults: an emulator that misbehaves on purpose. The matrices run
in-process with the command's clock tied to the emulator's (back-off takes no real time);
one real process per path checks the same end to end."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bulkctl.cli.options import choose_output
from bulkctl.commands import list as list_cmd
from bulkctl.emulator.app import Emulator, Faults, Request, Response
from bulkctl.errors import BulkctlError
from bulkctl.lists.filters import BulkFilter
from bulkctl.output.render import BULK_ALL_FIELDS, BULK_FIELDS
from tests.conftest import (
    InProcess,
    LinkedClock,
    ManualClock,
    Served,
    Spawned,
    in_process,
    logged_in,
    make_emulator,
    run_bulkctl,
    run_main,
    serving,
)


def list_in_process(
    tmp_path: Path,
    emulator: Emulator,
    clock: ManualClock,
    *,
    concurrency: int,
    retries: str = "8",
    json_flag: bool = False,
    quota_wait: str = "600",
    filters: BulkFilter | None = None,
    proc: InProcess | None = None,
) -> tuple[InProcess, int]:
    """``bulkctl list --all --jsonl`` (or ``--json``) in-process; (the run, its exit code).
    ``proc``: a run made beforehand by ``list_run``, for a test that watches its output."""
    proc = proc or list_run(tmp_path, emulator, clock, retries, quota_wait)
    output = choose_output(
        output=None,
        json_flag=json_flag,
        jsonl_flag=not json_flag,
        fields_spec=None,
        header=True,
        stdout_tty=False,
        available=BULK_ALL_FIELDS,
        default_fields=BULK_FIELDS,
    )
    options = list_cmd.ListOptions(
        statuses=[],
        wanted=None,
        offset=0,
        output=output,
        concurrency=concurrency,
        filters=filters or BulkFilter(),
    )
    try:
        list_cmd.run(proc.ctx, options)
        code = 0
    except BulkctlError as exc:
        print(f"bulkctl: error: {exc.message}", file=proc.ctx.stderr)
        code = exc.exit_code
    finally:
        proc.ctx.close()
    return proc, code


def list_run(
    tmp_path: Path,
    emulator: Emulator,
    clock: ManualClock,
    retries: str = "8",
    quota_wait: str = "600",
) -> InProcess:
    """An in-process run whose sleeping moves the emulator's clock."""
    proc = in_process(
        tmp_path,
        emulator,
        clock,
        env={"BULKCTL_RETRIES": retries, "BULKCTL_QUOTA_WAIT": quota_wait},
    )
    proc.ctx.clock = LinkedClock(clock)
    return proc


FAULTS = {
    "503 with Retry-After": Faults(fail_rate=0.3, retry_after=0),
    "throttling (429 and 409 TOO_MANY_REQUESTS)": Faults(throttle_rate=0.3, retry_after=0),
    "connections closed without an answer": Faults(drop_rate=0.3),
    "latency": Faults(latency_ms=30),
    "all at once": Faults(
        fail_rate=0.1, throttle_rate=0.1, drop_rate=0.1, latency_ms=5, retry_after=0
    ),
}


@pytest.fixture
def faulty(request: pytest.FixtureRequest) -> Iterator[tuple[Emulator, ManualClock]]:
    yield make_emulator(bulks=1500, faults=request.param)


@pytest.mark.parametrize("faulty", list(FAULTS.values()), ids=list(FAULTS), indirect=True)
@pytest.mark.parametrize("concurrency", ["1", "8"])
def test_each_fault_still_gives_exactly_the_right_records_once(
    tmp_path: Path, faulty: tuple[Emulator, ManualClock], concurrency: str
) -> None:
    emulator, clock = faulty
    expected = list(emulator.state.order)
    proc, code = list_in_process(tmp_path, emulator, clock, concurrency=int(concurrency))
    assert code == 0, proc.err
    ids = [json.loads(line)["bulkId"] for line in proc.out.splitlines()]
    assert ids == expected
    if emulator.faults.fail_rate or emulator.faults.drop_rate:
        assert "retrying" in proc.err
    assert emulator.violations == []


def test_all_faults_at_once_end_to_end() -> None:
    """The one real process for the fault matrix above: retries, then every record once."""
    emulator, clock = make_emulator(bulks=1500, faults=FAULTS["all at once"])
    expected = list(emulator.state.order)
    with serving(emulator) as root:
        served = Served(emulator, clock, root)
        result = run_bulkctl(
            "list", "--all", "--jsonl", "--concurrency", "8", env=served.env(BULKCTL_RETRIES="8")
        )
    assert result.code == 0, result.stderr
    assert [json.loads(line)["bulkId"] for line in result.stdout.splitlines()] == expected
    assert "retrying" in result.stderr


@pytest.mark.parametrize("concurrency", ["1", "8"])
def test_records_added_while_listing_are_never_duplicated_nor_the_old_ones_missed(
    tmp_path: Path, concurrency: str
) -> None:
    emulator, clock = make_emulator(bulks=2000, faults=Faults(churn=5, latency_ms=3))
    original = set(emulator.state.order)
    proc, code = list_in_process(tmp_path, emulator, clock, concurrency=int(concurrency))
    assert code == 0, proc.err
    ids = [json.loads(line)["bulkId"] for line in proc.out.splitlines()]
    assert len(ids) == len(set(ids))
    assert original <= set(ids)
    assert emulator.violations == []


def test_a_shrinking_list_warns_and_strict_exits_1(served: Served) -> None:
    original = served.emulator._list_bulks
    calls = {"n": 0}

    def shrinking(query, now):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:  # between pages, five COMPLETED bulks move elsewhere
            for bulk_id in served.state.listing("COMPLETED")[:5]:
                served.state.bulks[bulk_id].status = "CANCELLED"
            served.state._version += 1
        return original(query, now)

    served.emulator._list_bulks = shrinking  # type: ignore[method-assign]
    result = run_bulkctl(
        "list", "-s", "COMPLETED", "--all", "--jsonl", "--concurrency", "1", env=served.env()
    )
    assert result.code == 0
    assert "records may be missing" in result.stderr
    calls["n"] = 0
    strict = run_main(  # the same listing with --strict: in-process
        "list",
        "-s",
        "COMPLETED",
        "--all",
        "--jsonl",
        "--strict",
        "--concurrency",
        "1",
        env=served.env(),
    )
    assert strict.code == 1
    assert "--strict" in strict.stderr


@pytest.mark.parametrize(
    ("faults", "code", "message", "requests", "sleeps"),
    [
        (Faults(fail_rate=1.0, retry_after=0), 1, "gave up after 3 attempts", 3, 2),
        # quota answers use no attempt: with quota_wait 0 a 429 saying "reset in 0 s" is tried
        # again at once, the 409 after it (no header: a probe would wait) ends it
        (Faults(throttle_rate=1.0, retry_after=0), 1, "quota is used up", 2, 0),
        (Faults(drop_rate=1.0), 6, "broke before a complete answer", 3, 2),
    ],
)
def test_faults_past_the_retry_budget_give_the_right_code_in_bounded_time(
    tmp_path: Path, faults: Faults, code: int, message: str, requests: int, sleeps: int
) -> None:
    emulator, clock = make_emulator(bulks=50, faults=faults)
    proc, got = list_in_process(
        tmp_path, emulator, clock, concurrency=8, retries="3", json_flag=True, quota_wait="0"
    )
    assert got == code
    assert message in proc.err
    assert proc.out == ""  # --json is one complete document or nothing
    assert len(emulator.requests) == requests
    assert len(proc.ctx.clock.slept) == sleeps  # type: ignore[attr-defined]  # back-off only


def test_quiet_hides_retry_lines_but_not_the_error() -> None:
    emulator, clock = make_emulator(bulks=50, faults=Faults(fail_rate=1.0, retry_after=0))
    with serving(emulator) as root:
        result = run_bulkctl(
            "--quiet", "list", env=Served(emulator, clock, root).env(BULKCTL_RETRIES="2")
        )
    assert result.code == 1
    assert "retrying" not in result.stderr
    assert "server error" in result.stderr


class FailsAfter:
    """Answers like the emulator for the first ``good`` requests, then 500 for ever."""

    def __init__(self, emulator: Emulator, good: int) -> None:
        self.emulator = emulator
        self.good = good
        self.seen = 0

    def handle(self, request: Request) -> Response:
        self.seen += 1
        if self.seen > self.good:
            return Response(
                500,
                b'{"code": "BOOM", "message": "internal"}',
                {"content-type": "application/json"},
            )
        return self.emulator.handle(request)


@pytest.mark.parametrize("fmt", ["--jsonl", "-oplain", "-ocsv"])
def test_rows_written_before_an_error_stay_and_the_exit_code_is_the_errors(fmt: str) -> None:
    emulator, _ = make_emulator(bulks=600)
    run = run_bulkctl if fmt == "--jsonl" else run_main  # one real process, with a real pipe
    with serving(FailsAfter(emulator, good=3)) as root:  # type: ignore[arg-type]
        env = logged_in(root + "/multi")
        result = run("list", "--all", fmt, "--concurrency", "1", env=env)
    assert result.code == 1
    assert "BOOM" in result.stderr
    lines = result.stdout.splitlines(keepends=True)
    assert lines and all(line.endswith("\n") for line in lines)  # only complete lines
    if fmt == "--jsonl":
        assert [json.loads(line)["bulkId"] for line in lines] == emulator.state.order[:300]


def test_json_output_is_nothing_when_the_listing_fails() -> None:
    emulator, _ = make_emulator(bulks=600)
    with serving(FailsAfter(emulator, good=3)) as root:  # type: ignore[arg-type]
        env = logged_in(root + "/multi")
        result = run_main("list", "--all", "--json", env=env)
    assert result.code == 1
    assert result.stdout == ""


def test_one_failing_status_stream_fails_the_command(served: Served) -> None:
    original = served.emulator._list_bulks

    def paused_breaks(query, now):  # type: ignore[no-untyped-def]
        if ("status", "PAUSED") in query:
            return Response(500)
        return original(query, now)

    served.emulator._list_bulks = paused_breaks  # type: ignore[method-assign]
    result = run_main("list", "-s", "RUNNING,PAUSED", "--all", "--jsonl", env=served.env())
    assert result.code == 1


def test_ctrl_c_exits_130_with_one_line() -> None:
    emulator, clock = make_emulator(bulks=3000, faults=Faults(latency_ms=200))
    with serving(emulator) as root:
        env = Served(emulator, clock, root).env()
        with Spawned("list", "--all", "--jsonl", "--concurrency", "2", env=env) as child:
            first = child.readline()  # the listing is under way
            assert first
            child.interrupt()
            code, out, err = child.finish()
    assert code == 130
    assert err.strip().splitlines() == ["bulkctl: interrupted"]
    assert all(line.endswith("}") for line in (first + out).splitlines())


class Proxy:
    def __init__(self, status: int, body: bytes, ctype: str) -> None:
        self.answer = Response(status, body, {"content-type": ctype, "request-ref": "proxy-1"})

    def handle(self, request: Request) -> Response:
        return self.answer


@pytest.mark.parametrize(
    ("body", "ctype"),
    [
        (b"<html><body><h1>Sign in to the corporate proxy</h1></body></html>", "text/html"),
        (b'{"bulkProcesses": {"not": "a list"}}', "application/json"),
        (b'{"count": 10, "bulkProc', "application/json"),
        (b'{"count": 1, "bulkProcesses": []}', "text/plain"),
    ],
)
def test_malformed_answers_exit_1_with_one_clear_line(body: bytes, ctype: str) -> None:
    run = run_bulkctl if ctype == "text/html" else run_main  # the proxy's page: a real process
    with serving(Proxy(200, body, ctype)) as root:  # type: ignore[arg-type]
        env = logged_in(root + "/multi")
        result = run("list", env=env)
    assert result.code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) <= 2
    assert "HTTP 200" in lines[0] and "proxy-1" in lines[0]
    assert "body starts" in lines[0]


@pytest.mark.parametrize(
    "extra", [[], ["--operation", "/"]], ids=["plain listing", "client-side filter"]
)
def test_rows_stream_out_as_pages_arrive(tmp_path: Path, extra: list[str]) -> None:
    """The plain listing is a real process reading a slow server through a pipe; the filtered
    one runs in-process, where the rows out at each page request are counted instead of timed
    (both flush at the same page boundaries: ``matching_bulks``'s ``on_page``)."""
    if extra:
        emulator, clock = make_emulator(bulks=1000)
        proc = list_run(tmp_path, emulator, clock)
        original = emulator._list_bulks
        rows_out: list[int] = []  # rows written when each page was asked for

        def noting(query, now):  # type: ignore[no-untyped-def]
            rows_out.append(proc.out.count("\n"))
            return original(query, now)

        emulator._list_bulks = noting  # type: ignore[method-assign]
        assert extra == ["--operation", "/"]
        matching = BulkFilter.parse(operation="/", now=clock())
        _, code = list_in_process(
            tmp_path, emulator, clock, concurrency=1, filters=matching, proc=proc
        )
        assert code == 0, proc.err
        assert json.loads(proc.out.splitlines()[0])["bulkId"] == emulator.state.order[0]
        assert len(rows_out) >= 10 and rows_out[-1] > 0, "the first row waited for the last page"
        assert len(proc.out.splitlines()) == 1000
        return
    emulator, clock = make_emulator(bulks=1000, faults=Faults(latency_ms=100))
    with serving(emulator) as root:
        env = Served(emulator, clock, root).env()
        with Spawned("list", "--all", "--jsonl", "--concurrency", "1", *extra, env=env) as child:
            first = child.readline()
            still_paging = child.proc.poll() is None  # nine pages of 100 ms each are still to come
            code, rest, _ = child.finish(timeout=60)
    assert code == 0
    assert json.loads(first)["bulkId"] == emulator.state.order[0]
    assert still_paging, "the first row waited for the last page"
    assert len((first + rest).splitlines()) == 1000
