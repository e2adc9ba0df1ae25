"""``submit`` and ``rerun`` end to end, against the emulator: every kind from JSON Lines, CSV and
a JSON array, executed and waited for; 10,001 items as two bulks; a lost answer then a
repeat; invalid files refused with nothing sent; a rerun of chosen failures.

One real ``bulkctl`` process per path; the matrices over kinds run in-process on one
emulator shared by the module (every test submits items of its own, so no two share an
idempotency-ref). ``violations`` stays empty: every request conforms to the spec.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from bulkctl.api.kinds import KIND_NAMES, KINDS, Kind
from bulkctl.cli.options import SendFlags
from bulkctl.commands.bulk import rerun as rerun_cmd
from bulkctl.commands.bulk import submit as submit_cmd
from bulkctl.emulator.app import DEMO_API_KEY, DEMO_TOKEN, Emulator, Request, Response
from bulkctl.emulator.state import EmulatorState
from bulkctl.emulator.submissions import FAILURE_CODES
from bulkctl.errors import ExitCode, NetworkError, OutcomeUnknown
from bulkctl.files.submission import InvalidInput, RerunRefused
from tests.conftest import (
    InProcess,
    LinkedClock,
    ManualClock,
    Served,
    in_process,
    run_bulkctl,
    run_main,
    serving,
)

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
AUTH = {"api-key": DEMO_API_KEY, "authorization": f"Bearer {DEMO_TOKEN}"}
SUBMISSION_PATHS = tuple(k.path for k in KINDS.values())
_salt = itertools.count(1)


class LosesAnswers(Emulator):
    """An emulator that handles the n-th submission requests (counting from 1) in full, then
    closes the connection without answering: the bulk exists, the client never hears of it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lose: set[int] = set()
        self.submissions = 0
        self._count = threading.Lock()

    def handle(self, request: Request) -> Response:
        response = super().handle(request)
        if request.url.split("?")[0].endswith(SUBMISSION_PATHS):
            with self._count:
                self.submissions += 1
                lost = self.submissions in self.lose
            if lost:
                return Response(0, drop=True)
        return response


@pytest.fixture(scope="module")
def shared() -> Iterator[Served]:
    clock = ManualClock()
    emulator = LosesAnswers(EmulatorState(bulks=5, now=clock()), clock=clock)
    with serving(emulator) as root:
        yield Served(emulator, clock, root)


@pytest.fixture
def emu(shared: Served) -> Iterator[Served]:
    """The module's emulator, losing no answer, its counts reset; no violation afterwards."""
    assert isinstance(shared.emulator, LosesAnswers)
    shared.emulator.lose = set()
    shared.emulator.submissions = 0
    shared.emulator.reset_counts()
    yield shared
    assert shared.emulator.violations == []


# -- items ------------------------------------------------------------------------------------


def items_of(kind: Kind, count: int) -> list[dict[str, Any]]:
    """``count`` bare items of ``kind`` (with ``id`` for a path id), none seen before."""
    salt = next(_salt)
    items = []
    for i in range(count):
        ident = f"7{salt:04d}{i:06d}0"  # ends in 0: never a failing 99N id
        if kind.name == "users":
            item: dict[str, Any] = {
                "name": "Ada",
                "surname": "Lovelace",
                "email": f"ada.{salt}.{i}@example.com",
            }
        elif kind.name in ("transfers", "sends"):
            item = {
                "profileId": "130000000000000001",
                "source": {"type": "managed_accounts", "id": "140000000000000001"},
                "destination": {"type": "managed_accounts", "id": "140000000000000002"},
                "destinationAmount": {"currency": "EUR", "amount": 100 + i},
                "description": f"run {salt}",
            }
        elif kind.name == "wire-transfers":
            item = {
                "profileId": "130000000000000003",
                "sourceInstrument": {"type": "managed_accounts", "id": "140000000000000001"},
                "transferAmount": {"currency": "EUR", "amount": 100 + i},
                "description": f"run {salt}",
                "destinationBeneficiary": {
                    "name": "Ada Lovelace",
                    "iban": "MT84MALT011000012345MTLCAST001S",
                },
            }
        elif kind.name == "card-spend-rules":
            item = {"id": ident, "allowAtm": False, "allowedMerchantCountries": ["MT", "DE"]}
        else:
            item = {"id": ident}
        items.append(item)
    return items


def failing(kind: Kind, item: dict[str, Any], which: int) -> tuple[dict[str, Any], str]:
    """The item made to fail when executed, with the kind's ``which``-th error code."""
    code = FAILURE_CODES[kind.operation][which]
    if kind.path_param is not None:
        return {**item, "id": item["id"][:-3] + f"99{which + 1}"}, code
    field = "surname" if kind.name == "users" else "description"
    return {**item, field: f"FAIL:{code}"}, code


def wrapped(kind: Kind, item: dict[str, Any]) -> dict[str, Any]:
    """The ``{pathParams, requestBody}`` form of a bare item."""
    body = {k: v for k, v in item.items() if k != "id"}
    params = {kind.path_param: item["id"]} if kind.path_param else {}
    return {"pathParams": params, **({"requestBody": body} if kind.has_body else {})}


def _cells(value: Any, prefix: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, sub in value.items():
            yield from _cells(sub, f"{prefix}.{key}" if prefix else key)
    elif isinstance(value, list):
        for index, sub in enumerate(value):
            yield from _cells(sub, f"{prefix}.{index}")
    elif isinstance(value, bool):
        yield prefix, "true" if value else "false"
    else:
        yield prefix, str(value)


def write_items(path: Path, kind: Kind, items: list[dict[str, Any]], fmt: str) -> Path:
    """The items as JSON Lines (bare), a JSON array (wrapped) or CSV (dotted headers)."""
    if fmt == "jsonl":
        path.write_text("".join(json.dumps(i) + "\n" for i in items))
    elif fmt == "json":
        path.write_text(json.dumps([wrapped(kind, i) for i in items], indent=1))
    else:
        rows = [dict(_cells(i, "")) for i in items]
        header = list(dict.fromkeys(k for row in rows for k in row))
        out = io.StringIO()
        writer = csv.DictWriter(out, header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        path.write_text(out.getvalue())
    return path


def operations_of(emulator: Emulator, bulk_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    while True:
        url = f"/multi/bulks/{bulk_id}/operations?offset={len(found)}&limit=100"
        answer = emulator.handle(Request("GET", url, dict(AUTH)))
        page = json.loads(answer.body or b"")["operations"]
        found += page
        if len(page) < 100:
            return found


def bulk_of(emulator: Emulator, bulk_id: str) -> dict[str, Any]:
    answer = emulator.handle(Request("GET", f"/multi/bulks/{bulk_id}", dict(AUTH)))
    return dict(json.loads(answer.body or b""))


def sent_bodies(kind: Kind, items: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    """What each operation must hold for these items: its path and its body."""
    expected = []
    for item in items:
        path = kind.operation
        if kind.path_param is not None:
            path = path.split("{")[0] + item["id"] + path.split("}")[1]
        body = {k: v for k, v in item.items() if k != "id"} if kind.has_body else None
        expected.append((path, body))
    return expected


def held(operations: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    return [
        (op["path"], json.loads(op["requestPayload"]) if op["requestPayload"] else None)
        for op in operations
    ]


# -- in-process runs --------------------------------------------------------------------------


def proc(tmp_path: Path, served: Served, **env: str) -> InProcess:
    """A command's Context on the shared emulator; its sleeps move the emulator's clock."""
    p = in_process(tmp_path, served.emulator, served.clock, env=env)
    p.ctx.clock = LinkedClock(served.clock)
    return p


def flags(options: dict[str, Any], **groups: Any) -> dict[str, Any]:
    """The options gathered into their groups (``send``, and rerun's ``which``) as ``bound``
    gathers them from the command line."""
    gathered: dict[str, Any] = {}
    for name, group in {"send": SendFlags, **groups}.items():
        names = set(group.__struct_fields__)
        gathered[name] = group(**{k: v for k, v in options.items() if k in names})
        options = {k: v for k, v in options.items() if k not in names}
    return {**options, **gathered}


def submit(p: InProcess, kind: str, source: Path | str, **options: Any) -> int:
    try:
        parsed = submit_cmd.parse(p.ctx, kind=kind, source=str(source), **flags(options))
        return submit_cmd.run(p.ctx, parsed)
    finally:
        p.ctx.close()


def rerun(p: InProcess, bulk_id: str, **options: Any) -> int:
    try:
        given = flags({"failed": True, **options}, which=rerun_cmd.RerunFlags)
        parsed = rerun_cmd.parse(p.ctx, bulk_id=bulk_id, **given)
        return rerun_cmd.run(p.ctx, parsed)
    finally:
        p.ctx.close()


def submitted_ids(p: InProcess) -> list[str]:
    return [r["bulkId"] for r in json.loads(p.out)]


RUN = {"execute": True, "yes": True, "wait": True, "interval": "1s", "timeout": "2h"}


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "json"])
@pytest.mark.parametrize("kind_name", KIND_NAMES)
def test_every_kind_from_every_format_is_submitted_executed_and_waited_for(
    tmp_path: Path, emu: Served, kind_name: str, fmt: str
) -> None:
    kind = KINDS[kind_name]
    items = items_of(kind, 3)
    source = write_items(tmp_path / f"items.{fmt}", kind, items, fmt)
    p = proc(tmp_path, emu)
    assert submit(p, kind_name, source, json_flag=True, **RUN) == ExitCode.OK, p.err
    [bulk_id] = submitted_ids(p)
    assert bulk_of(emu.emulator, bulk_id)["status"] == "COMPLETED"
    assert held(operations_of(emu.emulator, bulk_id)) == sent_bodies(kind, items)


@pytest.mark.parametrize("kind_name", KIND_NAMES)
def test_10001_items_become_two_bulks_in_order(tmp_path: Path, emu: Served, kind_name: str) -> None:
    kind = KINDS[kind_name]
    items = items_of(kind, 10_001)
    source = write_items(tmp_path / "items.jsonl", kind, items, "jsonl")
    p = proc(tmp_path, emu)
    assert submit(p, kind_name, source, json_flag=True) == ExitCode.OK, p.err
    records = json.loads(p.out)
    assert [(r["chunk"], r["items"], r["operationCount"]) for r in records] == [
        (1, 10_000, 10_000),
        (2, 1, 1),
    ]
    assert emu.emulator.route_counts[f"{kind.method} /multi{kind.path}"] == 2
    last = operations_of(emu.emulator, records[1]["bulkId"])
    assert held(last) == sent_bodies(kind, items[-1:])


IDEMPOTENT = [k for k in KIND_NAMES if KINDS[k].idempotent]


@pytest.mark.parametrize("kind_name", IDEMPOTENT)
def test_a_lost_answer_then_a_repeat_gives_exactly_one_bulk_per_chunk(
    tmp_path: Path, emu: Served, kind_name: str
) -> None:
    kind = KINDS[kind_name]
    source = write_items(tmp_path / "items.jsonl", kind, items_of(kind, 3), "jsonl")
    assert isinstance(emu.emulator, LosesAnswers)
    emu.emulator.lose = {2, 3}  # chunk 2 is made twice over, never answered
    before = len(emu.state.bulks)
    first = proc(tmp_path, emu, BULKCTL_RETRIES="2")
    with pytest.raises(NetworkError) as lost:
        submit(first, kind_name, source, chunk_size=2, json_flag=True, execute=True, yes=True)
    assert "chunk 2 of 2" in lost.value.message
    assert emu.emulator.route_counts["POST /multi/bulks/{bulk_id}/execute"] == 0
    assert len(emu.state.bulks) == before + 2  # the lost answer's bulk exists
    again = proc(tmp_path, emu)
    assert submit(again, kind_name, source, chunk_size=2, json_flag=True) == ExitCode.OK
    records = json.loads(again.out)
    assert [r["alreadySubmitted"] for r in records] == [True, False]
    assert "already submitted as bulk" in again.err
    assert len(emu.state.bulks) == before + 2  # one bulk per chunk, the repeat made none
    assert emu.emulator.submissions == 4  # 1, 2 (lost), 3 (lost, retried), 4 (repeat)
    assert len({r["bulkId"] for r in records}) == 2


def test_card_removals_lost_answer_is_an_unknown_outcome_never_retried(
    tmp_path: Path, emu: Served
) -> None:
    kind = KINDS["card-removals"]
    source = write_items(tmp_path / "items.jsonl", kind, items_of(kind, 1), "jsonl")
    assert isinstance(emu.emulator, LosesAnswers)
    emu.emulator.lose = {1}
    p = proc(tmp_path, emu)
    with pytest.raises(OutcomeUnknown) as caught:
        submit(p, "card-removals", source)
    assert emu.emulator.submissions == 1
    assert "bulkctl list" in " ".join(caught.value.lines())
    assert caught.value.exit_code == ExitCode.NETWORK


def broken(kind: Kind) -> str:
    """Five lines of which lines 2, 3 and 5 are wrong: not JSON, wrong for the kind, no object."""
    good = [json.dumps(i) for i in items_of(kind, 2)]
    item = items_of(kind, 1)[0]
    if kind.path_param is not None:
        wrong = {**item, "id": "12a"}
    else:
        wrong = {k: v for k, v in item.items() if k != kind.required_fields[0]}
    return "\n".join([good[0], "{not json", json.dumps(wrong), good[1], "[1]"]) + "\n"


@pytest.mark.parametrize("kind_name", KIND_NAMES)
def test_an_invalid_file_names_every_bad_line_and_sends_nothing(
    tmp_path: Path, emu: Served, kind_name: str
) -> None:
    kind = KINDS[kind_name]
    source = tmp_path / "items.jsonl"
    source.write_text(broken(kind))
    p = proc(tmp_path, emu)
    with pytest.raises(InvalidInput) as caught:
        submit(p, kind_name, source, **RUN)
    assert caught.value.exit_code == ExitCode.USAGE
    assert sorted({pr.where for pr in caught.value.problems}) == ["line 2", "line 3", "line 5"]
    assert emu.emulator.request_count == 0


@pytest.mark.parametrize("kind_name", KIND_NAMES)
def test_rerun_by_error_code_submits_exactly_those_failures_with_their_payloads(
    tmp_path: Path, emu: Served, kind_name: str
) -> None:
    kind = KINDS[kind_name]
    ok = items_of(kind, 5)
    first, code = failing(kind, ok[1], 0)
    other, other_code = failing(kind, ok[2], 1)
    third, _ = failing(kind, ok[4], 0)
    items = [ok[0], first, other, ok[3], third]
    assert code != other_code
    source = write_items(tmp_path / "items.jsonl", kind, items, "jsonl")
    p = proc(tmp_path, emu)
    ran = submit(p, kind_name, source, json_flag=True, mode="on-failure-continue", **RUN)
    assert ran == ExitCode.PARTIALLY_COMPLETED, p.err
    [source_bulk] = submitted_ids(p)
    again = proc(tmp_path, emu)
    assert rerun(again, source_bulk, error_codes=[code], json_flag=True) == ExitCode.OK
    [new_bulk] = submitted_ids(again)
    assert bulk_of(emu.emulator, new_bulk)["status"] == "SUBMITTED"
    assert held(operations_of(emu.emulator, new_bulk)) == sent_bodies(kind, [first, third])
    assert "left out: 2 COMPLETED, 1 FAILED with another error code" in again.err


def test_rerun_refuses_a_bulk_that_is_not_final(tmp_path: Path, emu: Served) -> None:
    kind = KINDS["card-blocks"]
    source = write_items(tmp_path / "items.jsonl", kind, items_of(kind, 2), "jsonl")
    p = proc(tmp_path, emu)
    assert submit(p, "card-blocks", source, json_flag=True) == ExitCode.OK
    [bulk_id] = submitted_ids(p)
    emu.emulator.reset_counts()
    with pytest.raises(RerunRefused, match="is SUBMITTED: only a final bulk"):
        rerun(proc(tmp_path, emu), bulk_id)
    assert emu.emulator.request_count == 1  # the bulk only, none of its operations


def test_rerun_not_run_takes_what_an_on_failure_stop_bulk_left(tmp_path: Path, emu: Served) -> None:
    kind = KINDS["transfers"]
    ok = items_of(kind, 4)
    stop, _ = failing(kind, ok[1], 0)
    items = [ok[0], stop, ok[2], ok[3]]
    source = write_items(tmp_path / "items.jsonl", kind, items, "jsonl")
    p = proc(tmp_path, emu)
    assert submit(p, "transfers", source, json_flag=True, **RUN) != ExitCode.OK
    [bulk_id] = submitted_ids(p)
    out = tmp_path / "again.jsonl"
    assert rerun(proc(tmp_path, emu), bulk_id, not_run=True, output_file=str(out)) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["requestBody"] for line in lines] == [stop, ok[2], ok[3]]


# -- real processes ---------------------------------------------------------------------------


@contextmanager
def time_passing(served: Served, step: float = 30.0, every: float = 0.1) -> Iterator[None]:
    """The emulator's clock moves on in the background while a real process waits."""
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(every):
            served.clock.advance(step)

    thread = threading.Thread(target=tick, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def test_the_walk_through_csv_execute_wait_rerun_fixed_failures(
    tmp_path: Path, emu: Served
) -> None:
    """The walk-through of docs/submitting.md, as real processes."""
    env = emu.env()
    run = ("--execute", "--yes", "--wait", "--interval", "1s", "--timeout", "5m")
    with time_passing(emu):
        first = run_bulkctl(
            "submit", "transfers", str(EXAMPLES / "transfers.csv"), "--json",
            "--mode", "on-failure-continue", *run, env=env,
        )  # fmt: skip
    assert first.code == ExitCode.PARTIALLY_COMPLETED, first.stderr
    [bulk_id] = [r["bulkId"] for r in json.loads(first.stdout)]
    fix = tmp_path / "fix.jsonl"
    written = run_bulkctl(
        "rerun", bulk_id, "--failed", "--error-code", "FUNDS_INSUFFICIENT",
        "--output-file", str(fix), env=env,
    )  # fmt: skip
    assert written.code == 0, written.stderr
    assert "1 operation to rerun; left out: 2 COMPLETED" in written.stderr
    fix.write_text(fix.read_text().replace("FAIL:FUNDS_INSUFFICIENT", "November payout, again"))
    with time_passing(emu):
        again = run_bulkctl("submit", "transfers", str(fix), *run, env=env)
    assert again.code == ExitCode.OK, again.stderr
    [new_id] = again.stdout.split()  # piped: the new bulk ids, one a line
    assert bulk_of(emu.emulator, new_id)["status"] == "COMPLETED"


@pytest.mark.parametrize("fmt", ["jsonl", "json"])
def test_a_real_submit_from_jsonl_and_a_json_array_prints_the_new_bulk(
    tmp_path: Path, emu: Served, fmt: str
) -> None:
    kind = KINDS["sends"]
    items = items_of(kind, 2)
    source = write_items(tmp_path / f"items.{fmt}", kind, items, fmt)
    result = run_bulkctl("submit", "sends", "-", input=source.read_text(), env=emu.env())
    assert result.code == 0, result.stderr
    [bulk_id] = result.stdout.split()
    assert held(operations_of(emu.emulator, bulk_id)) == sent_bodies(kind, items)
    assert f"bulkctl execute {bulk_id}" in result.stderr


def test_a_real_submit_of_10001_items_makes_two_bulks(tmp_path: Path, emu: Served) -> None:
    kind = KINDS["card-blocks"]
    source = write_items(tmp_path / "blocks.csv", kind, items_of(kind, 10_001), "csv")
    result = run_bulkctl("submit", "card-blocks", str(source), env=emu.env())
    assert result.code == 0, result.stderr
    first, second = result.stdout.split()
    assert bulk_of(emu.emulator, first)["submittedItemsCount"] == 10_000
    assert bulk_of(emu.emulator, second)["submittedItemsCount"] == 1


def test_a_real_submit_whose_answer_is_lost_then_repeated_makes_one_bulk_per_chunk(
    tmp_path: Path, emu: Served
) -> None:
    kind = KINDS["transfers"]
    source = write_items(tmp_path / "pay.jsonl", kind, items_of(kind, 4), "jsonl")
    assert isinstance(emu.emulator, LosesAnswers)
    emu.emulator.lose = {2, 3}
    before = len(emu.state.bulks)
    args = ("submit", "transfers", str(source), "--chunk-size", "2")
    lost = run_bulkctl(*args, env=emu.env(BULKCTL_RETRIES="2"))
    assert lost.code == ExitCode.NETWORK, lost.stderr
    assert "chunk 2 of 2" in lost.stderr and "Traceback" not in lost.stderr
    again = run_bulkctl(*args, env=emu.env())
    assert again.code == 0, again.stderr
    assert "chunk 1 of 2: already submitted as bulk" in again.stderr
    assert len(again.stdout.split()) == 2
    assert len(emu.state.bulks) == before + 2


def test_a_real_submit_of_an_invalid_file_names_every_bad_line_and_sends_nothing(
    tmp_path: Path, emu: Served
) -> None:
    source = tmp_path / "bad.jsonl"
    source.write_text(broken(KINDS["transfers"]))
    result = run_bulkctl("submit", "transfers", str(source), "--execute", "--yes", env=emu.env())
    assert result.code == ExitCode.USAGE
    assert "3 problems, nothing was sent" in result.stderr
    for line in ("line 2:", "line 3:", "line 5:"):
        assert line in result.stderr
    assert emu.emulator.request_count == 0


def test_a_real_submit_of_two_identical_chunks_sends_both(tmp_path: Path, emu: Served) -> None:
    """A chunk's ref depends on its place: the second of two equal chunks is no repeat."""
    kind = KINDS["transfers"]
    [item] = items_of(kind, 1)
    source = write_items(tmp_path / "pay.jsonl", kind, [item] * 4, "jsonl")
    before = len(emu.state.bulks)
    result = run_bulkctl("submit", "transfers", str(source), "--chunk-size", "2", env=emu.env())
    assert result.code == 0, result.stderr
    assert "already submitted" not in result.stderr
    first, second = result.stdout.split()
    assert first != second and len(emu.state.bulks) == before + 2


def test_a_real_submit_of_true_for_an_integer_names_the_field_and_sends_nothing(
    tmp_path: Path, emu: Served
) -> None:
    """JSON's ``true`` is a bool, and Python's bool is an int: the check must tell them apart."""
    kind = KINDS["transfers"]
    [item] = items_of(kind, 1)
    item["destinationAmount"]["amount"] = True
    source = write_items(tmp_path / "pay.jsonl", kind, [item], "jsonl")
    result = run_bulkctl("submit", "transfers", str(source), "--yes", env=emu.env())
    assert result.code == ExitCode.USAGE, result.stderr
    assert "line 1: destinationAmount.amount: must be a whole number" in result.stderr
    assert "nothing was sent" in result.stderr and "Traceback" not in result.stderr
    assert emu.emulator.request_count == 0


def test_a_real_rerun_submits_the_failures(tmp_path: Path, emu: Served) -> None:
    kind = KINDS["card-blocks"]
    ok = items_of(kind, 3)
    bad, code = failing(kind, ok[1], 0)
    source = write_items(tmp_path / "blocks.jsonl", kind, [ok[0], bad, ok[2]], "jsonl")
    p = proc(tmp_path, emu)
    submit(p, "card-blocks", source, json_flag=True, mode="on-failure-continue", **RUN)
    [bulk_id] = submitted_ids(p)
    result = run_bulkctl("rerun", bulk_id, "--failed", "--error-code", code, env=emu.env())
    assert result.code == 0, result.stderr
    [new_id] = result.stdout.split()
    assert held(operations_of(emu.emulator, new_id)) == sent_bodies(kind, [bad])


# -- refusals before anything is sent ---------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["submit", "payouts", "x.csv"], "unknown kind 'payouts'"),
        (["submit", "transfers", "x.csv", "--format", "xml"], "unknown format 'xml'"),
        (["submit", "transfers", "x.csv", "--chunk-size", "10001"], "--chunk-size must be"),
        (["submit", "transfers", "x.csv", "--wait"], "--wait needs --execute"),
        (["submit", "transfers", "x.csv", "--dry-run", "--execute"], "--dry-run sends nothing"),
        (["submit", "transfers", "x.csv", "--mode", "fast"], "unknown mode 'fast'"),
        (["rerun", "123"], "--failed"),
        (["rerun", "12a", "--failed"], "12a"),
        (["rerun", "123", "--failed", "--sequence", "5-2"], "invalid sequence range"),
        (["rerun", "123", "--failed", "--output-file", "f", "--execute"], "--output-file"),
    ],
)
def test_usage_errors_exit_2_before_any_request(emu: Served, args: list[str], message: str) -> None:
    result = run_main(*args, env=emu.env())
    assert result.code == ExitCode.USAGE, result.stderr
    assert message in result.stderr
    assert emu.emulator.request_count == 0


def test_execute_without_a_terminal_needs_yes_and_sends_nothing(emu: Served) -> None:
    source = str(EXAMPLES / "transfers.jsonl")
    result = run_main("submit", "transfers", source, "--execute", env=emu.env())
    assert result.code == ExitCode.USAGE
    assert "pass --yes" in result.stderr
    assert emu.emulator.request_count == 0


@pytest.mark.parametrize(
    "kind_name", [k for k in KIND_NAMES if not KINDS[k].offered_by("backoffice")]
)
def test_the_back_office_refuses_the_kinds_it_lacks(emu: Served, kind_name: str) -> None:
    source = str(EXAMPLES / f"{kind_name}.jsonl")
    env = emu.env(BULKCTL_BASE_URL=emu.backoffice)
    result = run_main("submit", kind_name, source, env=env)
    assert result.code == ExitCode.USAGE
    assert "Back Office API has no bulk" in result.stderr
    assert emu.emulator.request_count == 0


def test_the_back_office_takes_transfers(tmp_path: Path, emu: Served) -> None:
    kind = KINDS["transfers"]
    source = write_items(tmp_path / "t.jsonl", kind, items_of(kind, 1), "jsonl")
    result = run_main(
        "submit", "transfers", str(source), env=emu.env(BULKCTL_BASE_URL=emu.backoffice)
    )
    assert result.code == 0, result.stderr
    assert emu.emulator.route_counts["POST /multi/backoffice/bulks/transfers"] == 1


def test_a_dry_run_shows_counts_chunks_and_the_first_item_and_sends_nothing(
    emu: Served,
) -> None:
    result = run_main(
        "submit", "card-blocks", str(EXAMPLES / "card-blocks.csv"), "--dry-run", "--chunk-size", "1",
        env=emu.env(),
    )  # fmt: skip
    assert result.code == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["items"] == 2 and [c["items"] for c in plan["chunks"]] == [1, 1]
    assert plan["firstItem"] == {"pathParams": {"_id_": "120000000000000201"}}
    assert "nothing sent" in result.stderr
    assert emu.emulator.request_count == 0


def test_new_makes_a_second_bulk_of_the_same_items(tmp_path: Path, emu: Served) -> None:
    kind = KINDS["users"]
    source = write_items(tmp_path / "u.jsonl", kind, items_of(kind, 2), "jsonl")
    ids = []
    for new in (False, False, True):
        p = proc(tmp_path, emu)
        assert submit(p, "users", source, json_flag=True, new=new) == 0
        ids += submitted_ids(p)
    assert ids[0] == ids[1] != ids[2]


# -- the one confirmation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base_url", "answer", "go"),
    [
        ("http://127.0.0.1:9/multi", "y", True),
        ("http://127.0.0.1:9/multi", "", False),
        ("https://api.weavr.io/multi", "y", False),  # production: never one keystroke away
        ("https://api.weavr.io/multi", "yes", False),
        ("https://api.weavr.io/multi", "production", True),
    ],
)
def test_one_confirmation_names_where_and_production_wants_the_word(
    tmp_path: Path, base_url: str, answer: str, go: bool
) -> None:
    from bulkctl.actions import CREATE_EXECUTE, ask, submission_text, where_text

    p = in_process(tmp_path, env={"BULKCTL_BASE_URL": base_url})
    p.ctx.stdin = io.StringIO(answer + "\n")
    p.ctx.stdin_tty = p.ctx.stderr_tty = True
    where = where_text(p.ctx.settings())
    text = submission_text("transfers", 3, 2, where, "ON_FAILURE_STOP")
    assert ask(p.ctx, CREATE_EXECUTE, text) is go
    prompt = p.err
    assert "submit and execute 3 × transfers in 2 bulks" in prompt
    if "api.weavr.io" in base_url:
        assert "PRODUCTION (api.weavr.io, profile default)" in prompt
        assert "Type 'production'" in prompt
    assert p.emulator.request_count == 0


@pytest.mark.parametrize(
    ("base_url", "answer", "go"),
    [
        ("http://127.0.0.1:9/multi", "y", True),
        ("https://api.weavr.io/multi", "y", False),
        ("https://api.weavr.io/multi", " production ", True),
        ("https://api.weavr.io/multi", "Production", False),  # the word itself, nothing else
    ],
)
def test_execute_resume_and_cancel_on_production_want_the_word_too(
    tmp_path: Path, base_url: str, answer: str, go: bool
) -> None:
    """The one-bulk question of execute, resume and cancel follows submit's rule (and the
    ui's): the gate's table."""
    from bulkctl.actions import ask

    for action in ("execute", "resume", "cancel"):
        p = in_process(tmp_path, env={"BULKCTL_BASE_URL": base_url})
        p.ctx.stdin = io.StringIO(answer + "\n")
        p.ctx.stdin_tty = p.ctx.stderr_tty = True
        assert ask(p.ctx, action, f"{action} bulk 11?") is go, (action, answer)
        assert ("Type 'production'" in p.err) is ("api.weavr.io" in base_url)
        assert p.emulator.request_count == 0


def test_without_a_terminal_the_confirmation_refuses_unless_yes(tmp_path: Path) -> None:
    from bulkctl.actions import CREATE_EXECUTE, needs_asking
    from bulkctl.errors import UsageError

    p = in_process(tmp_path)
    with pytest.raises(UsageError, match="without confirmation"):
        needs_asking(p.ctx, CREATE_EXECUTE, yes=False)
    assert needs_asking(p.ctx, CREATE_EXECUTE, yes=True) is False


def test_the_journal_of_one_host_never_answers_for_another(tmp_path: Path) -> None:
    from bulkctl.actions.sending import journal_for

    sandbox = in_process(tmp_path, env={"BULKCTL_BASE_URL": "https://sandbox.weavr.io/multi"})
    live = in_process(tmp_path, env={"BULKCTL_BASE_URL": "https://api.weavr.io/multi"})
    assert journal_for(sandbox.ctx).path != journal_for(live.ctx).path
    assert journal_for(live.ctx).path.parent.parent == tmp_path / "state" / "submissions"


# -- help and completion ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "example"),
    [
        ("submit", "bulkctl submit transfers payout.csv --execute --wait"),
        ("rerun", "bulkctl rerun 123 --failed --error-code FUNDS_INSUFFICIENT"),
    ],
)
def test_help_gives_an_example(command: str, example: str) -> None:
    result = run_main(command, "--help")
    assert result.code == 0
    assert example in result.stdout


@pytest.mark.parametrize("script", ["bulkctl.bash", "_bulkctl", "bulkctl.fish"])
def test_kinds_and_file_formats_complete_in_every_shell(script: str) -> None:
    text = (EXAMPLES.parent / "completions" / script).read_text()
    assert " ".join(KIND_NAMES) in text
    assert "jsonl json csv" in text
    assert "submit/--format" in text or "'submit/--format'" in text
