"""Fleets (issue 23): list, summary across profiles (-A, --profiles) and identities
(--identities), with real bulkctl processes against emulators served on loopback ports."""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from bulkctl.emulator.app import DEMO_API_KEY, DEMO_TOKEN, Emulator, Faults
from bulkctl.emulator.quota import parse_quota
from bulkctl.emulator.state import EmulatorState
from bulkctl.lists.fleet import worst_exit_code
from tests.conftest import ManualClock, Spawned, run_bulkctl, run_main
from tests.serving import bulkctl_command, serving


def free_port() -> int:
    """A loopback port nothing listens on: a profile whose server is down."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_profiles(home: Path, profiles: dict[str, dict[str, str]]) -> None:
    folder = home / "config" / "bulkctl"
    folder.mkdir(parents=True, mode=0o700, exist_ok=True)
    (home / "config").chmod(0o700)
    lines = []
    for name, values in profiles.items():
        lines.append(f"[profiles.{name}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in values.items()]
    path = folder / "config.toml"
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)


def logged_in(url: str, **extra: str) -> dict[str, str]:
    return {"base_url": url, "api_key": DEMO_API_KEY, "auth_token": DEMO_TOKEN, **extra}


def failed_ids(state: EmulatorState) -> set[str]:
    return set(state.listing("FAILED"))


@pytest.fixture
def two_and_down(isolated_home: Path) -> Iterator[tuple[Emulator, Emulator]]:
    """Profiles one and two on two emulators, down on a closed port, empty with no
    credentials, bad with a token the server refuses."""
    first = Emulator(EmulatorState(bulks=120, now=ManualClock()()), clock=ManualClock())
    second = Emulator(EmulatorState(bulks=90, seed=7, now=ManualClock()()), clock=ManualClock())
    with ExitStack() as stack:
        one = stack.enter_context(serving(first))
        two = stack.enter_context(serving(second))
        write_profiles(
            isolated_home,
            {
                "one": logged_in(one + "/multi"),
                "two": logged_in(two + "/multi"),
                "down": logged_in(f"http://127.0.0.1:{free_port()}/multi", retries="1"),
                "empty": {"environment": "sandbox"},
            },
        )
        yield first, second


def test_list_all_profiles_returns_every_failed_bulk_with_its_profile_and_reports_the_down_one(
    two_and_down: tuple[Emulator, Emulator],
) -> None:
    first, second = two_and_down
    # the environment's host and credentials name one profile: -A leaves them aside
    env = {"BULKCTL_API_KEY": "not-the-key", "BULKCTL_BASE_URL": "http://127.0.0.1:9/multi"}
    result = run_bulkctl("list", "-A", "-s", "failed", "--all", "--json", env=env)
    assert result.code == 6, result.stderr  # the down profile's network failure
    document = json.loads(result.stdout)
    got = {(b["profile"], b["bulkId"]) for b in document["bulks"]}
    want = {("one", i) for i in failed_ids(first.state)} | {
        ("two", i) for i in failed_ids(second.state)
    }
    assert got == want and len(document["bulks"]) == len(want)
    assert all(b["status"] == "FAILED" and next(iter(b)) == "profile" for b in document["bulks"])
    assert document["errors"] == [
        {
            "profile": "down",
            "identity": None,
            "exit_code": 6,
            "message": document["errors"][0]["message"],
        }
    ]
    assert "cannot connect" in document["errors"][0]["message"]
    errors = [line for line in result.stderr.splitlines() if line.startswith("bulkctl: error:")]
    assert errors == [f"bulkctl: error: profile down: {document['errors'][0]['message']}"]
    assert "retrying" not in result.stderr  # one line for the failing profile, no more
    assert "profile empty: no credentials, skipped" in result.stderr
    assert "BULKCTL_API_KEY, BULKCTL_BASE_URL ignored" in result.stderr
    assert "demo" not in {b["profile"] for b in document["bulks"]}  # only when named


def test_the_worst_exit_code_wins_and_each_failing_profile_gets_one_line(
    two_and_down: tuple[Emulator, Emulator], isolated_home: Path
) -> None:
    first, _ = two_and_down
    path = isolated_home / "config" / "bulkctl" / "config.toml"
    refused = {"base_url": "", "api_key": DEMO_API_KEY, "auth_token": "not-a-token"}
    text = path.read_text()
    one_url = text.split('base_url = "', 1)[1].split('"', 1)[0]
    refused["base_url"] = one_url
    path.write_text(
        text + "[profiles.bad]\n" + "".join(f'{k} = "{v}"\n' for k, v in refused.items())
    )
    result = run_bulkctl("list", "-A", "-s", "failed", "--all", "-o", "csv")
    assert result.code == 3, result.stderr  # a login a person must fix beats the network
    assert result.stderr.count("bulkctl: error: profile bad:") == 1
    assert result.stderr.count("bulkctl: error: profile down:") == 1
    rows = result.stdout.splitlines()
    assert rows[0].startswith("profile,bulkId,status")
    assert {r.split(",")[1] for r in rows[1:] if r.startswith("one,")} == failed_ids(first.state)
    # named profiles only; the demo too when named
    result = run_bulkctl("list", "--profiles", "one,demo", "-s", "failed", "--limit", "2")
    assert result.code == 0, result.stderr
    assert [line.split("\t")[0] for line in result.stdout.splitlines()[1:]] == [
        "one",
        "one",
        "demo",
        "demo",
    ]


def test_worst_exit_code_order() -> None:
    assert worst_exit_code([]) == 0
    assert worst_exit_code([0, 0]) == 0
    assert worst_exit_code([6, 1]) == 6
    assert worst_exit_code([1, 6, 3]) == 3
    assert worst_exit_code([3, 9]) == 9
    assert worst_exit_code([2, 4]) == 4
    assert worst_exit_code([5, 1]) == 1


def test_summary_all_profiles_counts_per_profile_a_total_and_fails_on_the_total(
    two_and_down: tuple[Emulator, Emulator],
) -> None:
    first, second = two_and_down
    result = run_bulkctl("summary", "-A", "--fail-on", "failed")
    assert result.code == 9, result.stderr  # the check wins over the down profile
    rows = {line.split("\t")[0]: line.split("\t") for line in result.stdout.splitlines()}
    header = rows["profile"]
    column = header.index("FAILED")
    counts = [len(failed_ids(first.state)), len(failed_ids(second.state))]
    assert [int(rows[p][column]) for p in ("one", "two", "TOTAL")] == [*counts, sum(counts)]
    assert "down" not in rows
    assert f"check failed: FAILED {sum(counts)}" in result.stderr
    assert result.stderr.count("bulkctl: error: profile down:") == 1
    document = json.loads(run_bulkctl("summary", "-A", "--json", "-s", "failed").stdout)
    assert document["total"] == {"FAILED": sum(counts)}
    assert [c["profile"] for c in document["counts"]] == ["one", "two"]
    assert [e["profile"] for e in document["errors"]] == ["down"]


def test_a_profile_that_would_need_a_prompt_is_reported_and_never_asked(
    two_and_down: tuple[Emulator, Emulator], isolated_home: Path
) -> None:
    path = isolated_home / "config" / "bulkctl" / "config.toml"
    text = path.read_text().split("[profiles.down]")[0]
    # a password login would need a person to type the password: reported, never asked
    text += f'[profiles.person]\nbase_url = "http://127.0.0.1:{free_port()}/multi"\n'
    text += f'api_key = "{DEMO_API_KEY}"\nemail = "someone@example.com"\n'
    path.write_text(text)
    result = run_bulkctl("summary", "-A", "-s", "completed", input="x\n")
    assert result.code == 3, result.stderr
    assert "Password" not in result.stderr
    assert result.stderr.count("bulkctl: error: profile person:") == 1
    assert "never asks" in result.stderr


def backoffice(emulator: Emulator, root: str) -> dict[str, str]:
    return {
        "BULKCTL_BASE_URL": root + "/multi/backoffice",
        "BULKCTL_API_KEY": DEMO_API_KEY,
    }


def test_identities_from_a_file_each_with_its_own_bulks_and_a_failing_one_does_not_stop_the_rest(
    tmp_path: Path,
) -> None:
    clock = ManualClock()
    emulator = Emulator(EmulatorState(bulks=60, now=clock()), clock=clock, identities=4)
    ids = tmp_path / "ids.txt"
    ids.write_text(
        "# the corporates first\ncorporate:1001\ncorporate:1099  # unknown to the key\n\n"
        "consumer:2001\nconsumer:2002\n"
    )
    with serving(emulator) as root:
        env = backoffice(emulator, root)
        result = run_bulkctl(
            "list", "--identities", f"@{ids}", "-s", "failed", "--all", "--json", env=env
        )
    assert result.code == 5, result.stderr  # 409: no such identity for this key
    document = json.loads(result.stdout)
    for kind, ident in (("CORPORATE", "1001"), ("CONSUMER", "2001"), ("CONSUMER", "2002")):
        mine = {
            b["bulkId"] for b in document["bulks"] if b["identity"] == f"{kind.lower()}:{ident}"
        }
        assert mine == failed_ids(emulator.identity_state((kind, ident))) != set()
    assert failed_ids(emulator.state) != failed_ids(emulator.identity_state(("CONSUMER", "2001")))
    assert [(e["identity"], e["exit_code"]) for e in document["errors"]] == [("corporate:1099", 5)]
    assert result.stderr.count("bulkctl: error: corporate:1099:") == 1


def test_a_wrong_identity_in_the_file_is_named_before_any_request(tmp_path: Path) -> None:
    clock = ManualClock()
    emulator = Emulator(EmulatorState(bulks=5, now=clock()), clock=clock)
    ids = tmp_path / "ids.txt"
    ids.write_text("corporate:1001\n# fine\ncorporate:12x\n")
    with serving(emulator) as root:
        result = run_bulkctl("summary", "--identities", f"@{ids}", env=backoffice(emulator, root))
        assert emulator.request_count == 0
    assert result.code == 2
    assert f"{ids} line 3: invalid identity 'corporate:12x'" in result.stderr


def test_the_demo_serves_three_identities_each_with_its_own_bulks() -> None:
    result = run_bulkctl(
        "--profile", "demo", "summary", "-s", "failed",
        "--identities", "corporate:1001,consumer:2001,corporate:1002", "--json",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    document = json.loads(result.stdout)
    counts = [c["counts"]["FAILED"] for c in document["counts"]]
    assert len(counts) == 3 and len(set(counts)) > 1
    assert document["total"]["FAILED"] == sum(counts)


def test_watch_all_profiles_reads_each_profile_every_poll(
    two_and_down: tuple[Emulator, Emulator],
) -> None:
    first, second = two_and_down
    with Spawned("watch", "-A", "-s", "failed", "--limit", "1", "--interval", "1s") as watch:
        lines = [json.loads(watch.readline()) for _ in range(2)]
        before = first.request_count, second.request_count
        while first.request_count == before[0] or second.request_count == before[1]:
            assert watch.proc.poll() is None  # polled again: every profile, every poll
            time.sleep(0.1)
        watch.interrupt()
        code, _, err = watch.finish()
    newest = {"one": first.state.listing("FAILED")[0], "two": second.state.listing("FAILED")[0]}
    assert {(line["bulk"]["profile"], line["bulk"]["bulkId"]) for line in lines} == set(
        newest.items()
    )
    assert code == 130
    assert err.count("bulkctl: error: profile down:") >= 1


def test_on_a_terminal_a_fleet_still_never_asks_for_a_password(
    two_and_down: tuple[Emulator, Emulator], isolated_home: Path
) -> None:
    import pexpect

    path = isolated_home / "config" / "bulkctl" / "config.toml"
    text = path.read_text()
    url = text.split('base_url = "', 1)[1].split('"', 1)[0]
    path.write_text(
        text + f'[profiles.person]\nbase_url = "{url}"\napi_key = "{DEMO_API_KEY}"\n'
        'email = "demo@bulkctl.example"\n'
    )
    command = bulkctl_command()
    args = ["list", "--profiles", "one,person", "-s", "failed", "--limit", "1"]
    child = pexpect.spawn(command[0], [*command[1:], *args], env=dict(os.environ), timeout=30)
    child.expect(pexpect.EOF)
    child.close()
    shown = child.before.decode("utf-8")
    assert "Password" not in shown
    assert child.exitstatus == 3
    assert "profile person: a login would need a password typed at a prompt" in shown
    assert "\none " in shown.replace("\r", "")  # the other profile's row, in a table


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["list", "-A", "--profiles", "one"], "choose -A/--all-profiles or --profiles"),
        (["--profile", "one", "list", "-A"], "--profile names one profile"),
        (["--profile", "one", "list", "-A"], "drop --profile, or name its profile in --profiles"),
        (["list", "--profiles", "one,nope"], "unknown profile 'nope' (known: demo, one)"),
        (["list", "--profiles", " , "], "--profiles names no profile"),
        (["summary", "-A", "123"], "bulk ids belong to one profile"),
        (["watch", "-A", "123"], "a BULK_ID belongs to one profile"),
        (["list", "--identities", "corporate:1,partner:2"], "invalid identity 'partner:2'"),
        (
            ["list", "--identities", "@missing.txt"],
            "cannot read identities file missing.txt: no such file",
        ),
        (["list", "--identities", ""], "--identities names no identity"),
        (["summary", "--identities", " , "], "--identities names no identity"),
    ],
)
def test_a_fleet_given_wrong_exits_2_before_any_request(
    isolated_home: Path, args: list[str], said: str
) -> None:
    write_profiles(isolated_home, {"one": logged_in("http://127.0.0.1:9/multi")})
    result = run_main(*args)
    assert result.code == 2, result.stderr
    assert said in result.stderr


def test_ctrl_c_stops_a_paced_run_of_identities_at_once() -> None:
    clock = ManualClock()
    emulator = Emulator(
        EmulatorState(bulks=5, now=clock()),
        clock=time.time,
        faults=Faults(quota=parse_quota("4/10s")),
        identities=20,
    )
    names = ",".join(f"{k.lower()}:{i}" for k, i in emulator.identities)
    with serving(emulator) as root:
        env = {**backoffice(emulator, root), "BULKCTL_RATE_LIMIT": "4/10s"}
        with Spawned("list", "--identities", names, "-s", "failed", env=env) as listing:
            while emulator.request_count < 4:  # the window is spent: the pacer waits
                assert listing.proc.poll() is None
                time.sleep(0.05)
            listing.interrupt()
            code, _, err = listing.finish(timeout=30)  # the 20 identities would take ~100 s
    assert code == 130, err
    assert "bulkctl: interrupted" in err
    assert emulator.request_count < 40


def test_a_fleet_list_cut_by_the_default_limit_says_so_per_member(
    two_and_down: tuple[Emulator, Emulator],
) -> None:
    result = run_bulkctl("list", "--profiles", "one,two", "--json")
    assert result.code == 0, result.stderr
    document = json.loads(result.stdout)
    assert set(document) == {"bulks", "errors"} and len(document["bulks"]) == 40
    assert (
        "profile one: 20 of 120 shown; profile two: 20 of 90 shown: "
        "use --limit N, or --all for every one"
    ) in result.stderr
    result = run_bulkctl("list", "--profiles", "one,two", "--all", "--json")
    assert result.code == 0 and "shown" not in result.stderr, result.stderr
    assert len(json.loads(result.stdout)["bulks"]) == 210


def test_identities_on_a_multi_api_profile_is_refused_before_any_output_or_request(
    isolated_home: Path,
) -> None:
    clock = ManualClock()
    emulator = Emulator(EmulatorState(bulks=5, now=clock()), clock=clock, identities=2)
    with serving(emulator) as root:
        write_profiles(isolated_home, {"mp": logged_in(root + "/multi")})
        result = run_bulkctl("--profile", "mp", "list", "--identities", "corporate:1001")
        assert emulator.request_count == 0
    assert result.code == 2, result.stderr
    assert result.stdout == ""
    assert "error: : " not in result.stderr
    assert "--identities needs the Back Office API" in result.stderr
    assert "api = backoffice" in result.stderr and "/multi/backoffice" in result.stderr


def test_a_failing_member_keeps_the_fix_of_its_error(
    two_and_down: tuple[Emulator, Emulator],
) -> None:
    result = run_bulkctl("list", "--profiles", "one,down", "-s", "failed", "--all")
    assert result.code == 6, result.stderr
    lines = result.stderr.splitlines()
    at = next(n for n, line in enumerate(lines) if line.startswith("bulkctl: error: profile down:"))
    assert lines[at + 1].startswith("  check the base URL"), result.stderr


def test_a_fix_shared_by_several_failing_members_is_said_once(isolated_home: Path) -> None:
    """A line per failing member, as issue 23 asks, and each fix once under the first member
    it fixes: 300 identities refused alike are 300 lines, not 600."""
    write_profiles(
        isolated_home,
        {
            f"down{n}": logged_in(f"http://127.0.0.1:{free_port()}/multi", retries="1")
            for n in range(3)
        },
    )
    result = run_bulkctl("list", "--profiles", "down0,down1,down2", "-s", "failed")
    assert result.code == 6, result.stderr
    lines = result.stderr.splitlines()
    errors = [line for line in lines if line.startswith("bulkctl: error: profile down")]
    assert len(errors) == 3, result.stderr
    fixes = [line for line in lines if line.startswith("  ")]
    assert len(fixes) == len(set(fixes)) >= 1, result.stderr  # each fix once
