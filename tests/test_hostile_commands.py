"""Every command, in every output format but JSON/JSONL, against a server that laces every
string field it sends with ESC, CSI, OSC 0, OSC 8, BEL, CR, C1 CSI, bidi overrides and
isolates, zero-width characters and line separators: none of them from the data reaches
stdout or stderr. The server is the emulator, its answers rewritten, so the commands take
their real paths (paging, failures, waiting, actions, errors). The bulkId of an answer for
one bulk is left alone: an answer for another bulk is malformed, and that is tested apart."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bulkctl.emulator.app import Emulator, Request, Response
from bulkctl.errors import ExitCode
from tests.conftest import bulkctl_command, logged_in, make_emulator, run_bulkctl, serving

HOSTILE = (
    "\x1b[2J\x1b[1;1H"  # CSI: clear the screen, cursor home
    "\x1b]0;owned\x07"  # OSC 0 ended by BEL: the window title
    "\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\"  # OSC 8: a hyperlink
    "\rOK\x07\x9b31m"  # CR over the line, a bell, C1 CSI
    "\u202e01.0\u202c\u2066x\u2069"  # RIGHT-TO-LEFT OVERRIDE (amounts read backwards), isolate
    "\u200bi\u200fn\u2060v\ufeff\u2028\u2029\u061c"  # zero widths, RLM, separators, ALM
)
RAW = ("\x1b", "\x07", "\x9b", "\u202e", "\u2066", "\u200b", "\u200f", "\ufeff", "\u2028")
FORMATS = [[], ["-o", "table"], ["-o", "wide"], ["-o", "plain"], ["-o", "csv"], ["-o", "markdown"]]


def lace(value: Any, keep: frozenset[str], key: str = "") -> Any:
    """Every string in ``value`` with HOSTILE appended, but for the keys in ``keep``."""
    if isinstance(value, str):
        return value if key in keep else value + HOSTILE
    if isinstance(value, list):
        return [lace(v, keep, key) for v in value]
    if isinstance(value, dict):
        return {k: lace(v, keep, k) for k, v in value.items()}
    return value


class Lacing:
    """The emulator, with every string field of every JSON answer laced."""

    def __init__(self, emulator: Emulator, keep: frozenset[str]) -> None:
        self.emulator = emulator
        self.keep = keep

    def handle(self, request: Request) -> Response:
        response = self.emulator.handle(request)
        if response.body:
            try:
                data = json.loads(response.body)
            except ValueError:
                return response
            keep = self.keep
            if re.fullmatch(r".*/bulks/[^/?]+(\?.*)?", request.url):  # one bulk, by its id
                keep |= {"bulkId"}
            response.body = json.dumps(lace(data, keep)).encode()
        return response


def serve(keep: frozenset[str]) -> Iterator[tuple[str, Emulator]]:
    emulator, _ = make_emulator(bulks=60)
    with serving(Lacing(emulator, keep)) as root:  # type: ignore[arg-type]
        yield root + "/multi", emulator


@pytest.fixture
def laced() -> Iterator[tuple[str, Emulator]]:
    """Every string laced, statuses too."""
    yield from serve(frozenset())


@pytest.fixture
def laced_but_status() -> Iterator[tuple[str, Emulator]]:
    """Statuses kept (so failures, dry runs and prompts take their paths), the rest laced."""
    yield from serve(frozenset({"status"}))


def assert_clean(text: str, what: object) -> None:
    for raw in RAW:
        assert raw not in text, (what, raw, text[:400])


def check(base: str, *args: str, code: int = ExitCode.OK) -> str:
    result = run_bulkctl(*args, env=logged_in(base, BULKCTL_NO_INPUT="1"), timeout=60)
    assert result.code == code, (args, result.code, result.stderr)
    assert_clean(result.stdout, args)
    assert_clean(result.stderr, args)
    return result.stdout + result.stderr


def some(emulator: Emulator, status: str) -> str:
    return emulator.state.listing(status)[0]


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: " ".join(f) or "default")
def test_listings_and_show_are_clean_in_every_format(
    laced: tuple[str, Emulator], fmt: list[str]
) -> None:
    base, emulator = laced
    failed = some(emulator, "PARTIALLY_COMPLETED")
    text = check(base, "list", *fmt)
    assert "\\x1b" in text  # the data is there, made visible
    check(base, "list", "-s", "running,paused", "--operation", "/", *fmt)
    check(base, "show", failed, *fmt)
    check(base, "operations", failed, "--all", *fmt)
    check(base, "operations", failed, "--all", "--payloads", *fmt)
    check(base, "operations", failed, "--status", "failed", "--errors", *fmt)
    if fmt[-1:] != ["wide"]:
        check(base, "summary", *fmt)
        check(base, "summary", "--operation", "/", *fmt)


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: " ".join(f) or "default")
def test_show_with_its_failures_is_clean(
    laced_but_status: tuple[str, Emulator], fmt: list[str]
) -> None:
    base, emulator = laced_but_status
    failed = some(emulator, "PARTIALLY_COMPLETED")
    text = check(base, "show", failed, *fmt)
    if fmt[-1:] == ["table"]:
        assert "failed operations by errorCode" in text and "--errors" in text
    check(base, "operations", failed, "--status", "failed", "--errors", *fmt)


def test_actions_dry_runs_refusals_and_api_errors_are_clean(
    laced: tuple[str, Emulator], laced_but_status: tuple[str, Emulator]
) -> None:
    base, emulator = laced
    submitted = some(emulator, "SUBMITTED")
    # a laced status is none the spec knows: the server decides, with one note, made safe
    unknown = check(base, "execute", submitted, "--dry-run")
    assert "\\x1b" in unknown and "left to the server to decide" in unknown
    check(base, "show", "424242", code=ExitCode.NOT_FOUND)  # the API's 404 message, laced
    check(base, "operations", "424242", code=ExitCode.NOT_FOUND)
    base, emulator = laced_but_status
    submitted = some(emulator, "SUBMITTED")
    check(base, "execute", submitted, "--dry-run")
    check(base, "cancel", some(emulator, "COMPLETED"), "--yes", code=ExitCode.CONFLICT)
    check(base, "pause", some(emulator, "RUNNING"), "--yes")
    check(base, "pause", some(emulator, "COMPLETED"), code=ExitCode.CONFLICT)
    check(base, "execute", submitted, "--yes")
    check(
        base, "execute", submitted, "--yes", code=ExitCode.CONFLICT
    )  # now RUNNING: the API's answer


def test_rerun_of_a_failed_bulk_is_clean(laced_but_status: tuple[str, Emulator]) -> None:
    base, emulator = laced_but_status
    failed = some(emulator, "PARTIALLY_COMPLETED")
    check(
        base, "rerun", failed, "--failed", "--dry-run", code=ExitCode.USAGE
    )  # laced: no known kind
    check(base, "rerun", failed, "--failed", "--output-file", "-", code=ExitCode.USAGE)


def test_auth_status_and_login_are_clean(laced: tuple[str, Emulator]) -> None:
    base, _ = laced
    check(base, "auth", "status", code=ExitCode.OK)
    check(base, "auth", "status", "--json", code=ExitCode.OK)
    check(base, "config", "list")


def test_wait_is_clean(
    laced_but_status: tuple[str, Emulator], laced: tuple[str, Emulator], tmp_path: Path
) -> None:
    base, emulator = laced_but_status
    done = some(emulator, "PARTIALLY_COMPLETED")
    check(base, "wait", done, code=ExitCode.PARTIALLY_COMPLETED)
    # the report's failed operations are read too (the bulkId of one bulk's answer is kept)
    check(
        base,
        "wait",
        done,
        "--junit",
        str(tmp_path / "report.xml"),
        code=ExitCode.PARTIALLY_COMPLETED,
    )
    base, emulator = laced
    check(
        base,
        "wait",
        some(emulator, "RUNNING"),
        "--timeout",
        "2s",
        "--interval",
        "1s",
        code=ExitCode.TIMEOUT,
    )


def run_for_a_while(base: str, *args: str, seconds: float = 3) -> tuple[str, str]:
    """Run a command that polls until stopped; Ctrl-C after ``seconds``."""
    proc = subprocess.Popen(
        [*bulkctl_command(), *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **logged_in(base)},
        text=True,
        # a pytest started in the background ignores SIGINT, and children inherit that
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        out, err = proc.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    return out, err


def test_watch_is_clean(
    laced: tuple[str, Emulator], laced_but_status: tuple[str, Emulator]
) -> None:
    for base, emulator in (laced, laced_but_status):
        out, err = run_for_a_while(base, "watch", "--interval", "1s")
        assert out, err
        assert_clean(out, "watch")
        assert_clean(err, "watch")
        out, err = run_for_a_while(base, "watch", some(emulator, "RUNNING"), "--interval", "1s")
        assert_clean(out + err, "watch one")
