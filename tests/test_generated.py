"""Generated files cannot drift: completions, the command pages in docs/commands/ and the
README's exit codes are regenerated and compared, and the completion scripts are run in their
shells."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bulkctl.cli import completion, reference
from bulkctl.cli.app import root_command
from bulkctl.errors import EXIT_CODE_MEANINGS, ExitCode
from tests.conftest import run_bulkctl, run_main

ROOT = Path(__file__).resolve().parent.parent
PAGES = ROOT / reference.PAGES_FOLDER
FILES = {"bash": "bulkctl.bash", "zsh": "_bulkctl", "fish": "bulkctl.fish"}


@pytest.mark.parametrize("shell", completion.SHELLS)
def test_committed_completions_are_what_the_cli_generates(shell: str) -> None:
    committed = (ROOT / "completions" / FILES[shell]).read_text(encoding="utf-8")
    assert committed == completion.script(shell, root_command()), "run: python scripts/generate.py"
    run = run_bulkctl if shell == "bash" else run_main  # one real process prints a script
    assert run("completion", shell).stdout == committed


def test_the_readmes_exit_codes_are_what_the_code_generates() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert reference.update_readme(readme) == readme, "run: python scripts/generate.py"
    for code, meaning in EXIT_CODE_MEANINGS.items():
        assert f"| {int(code)} | {meaning} |" in readme


def test_the_readme_exit_codes_change_when_a_meaning_changes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    monkeypatch.setitem(EXIT_CODE_MEANINGS, ExitCode.NOT_FOUND, "not found, said differently")
    assert reference.update_readme(readme) != readme


def test_the_command_pages_are_what_the_cli_generates() -> None:
    committed = reference.committed_pages(PAGES)
    assert reference.page_drift(committed, reference.command_pages()) == [], (
        "run: python scripts/generate.py"
    )


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ("stale", "out of date: list.md"),
        ("missing", "missing: auth-login.md"),
        ("extra", "extra: logs.md"),
    ],
)
def test_a_drifted_page_is_named(change: str, problem: str) -> None:
    wanted = reference.command_pages()
    committed = dict(wanted)
    if change == "stale":
        committed["list.md"] = committed["list.md"].replace("--limit", "--max")
    elif change == "missing":
        del committed["auth-login.md"]
    else:
        committed["logs.md"] = "# `bulkctl logs`\n"
    assert reference.page_drift(committed, wanted) == [problem]


def test_the_generator_removes_a_page_no_command_has(tmp_path: Path) -> None:
    # the real script, on a copy: a page for a removed command does not outlive it
    copy = tmp_path / "repo"
    for part in ("bulkctl", "scripts", "completions", "docs", "README.md"):
        source = ROOT / part
        if source.is_dir():
            shutil.copytree(source, copy / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, copy / part)
    (copy / "docs" / "commands" / "logs.md").write_text("# `bulkctl logs`\n", encoding="utf-8")
    (copy / "docs" / "commands" / "list.md").unlink()
    script = [sys.executable, str(copy / "scripts" / "generate.py")]
    check = subprocess.run([*script, "--check"], capture_output=True, text=True, timeout=120)
    assert check.returncode == 1
    assert "docs/commands/logs.md" in check.stdout and "docs/commands/list.md" in check.stdout
    subprocess.run(script, capture_output=True, text=True, timeout=120, check=True)
    assert not (copy / "docs" / "commands" / "logs.md").exists()
    assert (copy / "docs" / "commands" / "list.md").read_text(encoding="utf-8") == (
        PAGES / "list.md"
    ).read_text(encoding="utf-8")


def test_a_pages_text_changes_when_an_options_help_changes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import typer

    from bulkctl.cli.app import app

    before = reference.command_pages()
    command = typer.main.get_command(app)
    original = typer.main.get_command

    def patched(typer_app: typer.Typer) -> object:
        cmd = original(typer_app)
        for param in cmd.get_command(None, "list").params:  # type: ignore[attr-defined]
            if param.name == "limit":
                param.help = "A different help text."
        return cmd

    monkeypatch.setattr(typer.main, "get_command", patched)
    after = reference.command_pages()
    assert reference.page_drift(before, after) == ["out of date: list.md"]
    assert "A different help text." in after["list.md"]
    assert command is not None


def test_every_command_has_a_page_and_a_line_in_the_index() -> None:
    pages = reference.command_pages()
    commands, _ = completion.command_tree(root_command())
    paths = ["bulkctl"] + [("bulkctl " + entry.path).strip() for entry in commands]
    for path in paths:
        name = reference.page_name(path)
        assert f"# `{path}`" in pages[name]
        assert f"| [`{path}`]({name}) |" in pages[reference.INDEX]
    assert len(pages) == len(set(paths)) + 1  # and nothing else but the index


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("bulkctl", "bulkctl.md"),
        ("bulkctl list", "list.md"),
        ("bulkctl auth login", "auth-login.md"),
    ],
)
def test_a_commands_page_is_named_by_its_words(path: str, name: str) -> None:
    assert reference.page_name(path) == name


# -- the scripts in their shells ----------------------------------------------------------------


@pytest.fixture
def fake_path(tmp_path: Path) -> tuple[str, Path]:
    """A PATH whose only bulkctl records each call: proof of what Tab starts."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    fake = bin_dir / "bulkctl"
    fake.write_text(
        f'#!/bin/sh\necho "$@" >> {calls}\n[ "$1 $2" = "config profiles" ] && printf "demo\\nlive\\n"\n'
    )
    fake.chmod(0o755)
    return f"{bin_dir}:/usr/bin:/bin", calls


BASH_CASES = [
    (["list", "--status", "RUN"], ["RUNNING"]),
    (["list", "--status", "run"], ["RUNNING"]),
    (["list", "--status", "RUNNING,PA"], ["RUNNING,PARTIALLY_COMPLETED", "RUNNING,PAUSED"]),
    (["li"], ["list"]),
    (["--profile", "demo", "list", "--st"], ["--status", "--strict"]),
    (["operations", "12", "--status", "fa"], ["FAILED"]),
    (["list", "-o", "j"], ["json", "jsonl"]),
    (["config", "set", "ap"], ["api", "api_key"]),
    (["execute", "12", "--mode", "on-failure-c"], ["on-failure-continue"]),
    (["summary", "--fail-on", "FAILED,PART"], ["FAILED,PARTIALLY_COMPLETED"]),
    (["auth", "lo"], ["login", "logout"]),
]


def bash_complete(words: list[str], env_path: str) -> list[str]:
    line = " ".join(f"'{w}'" for w in ["bulkctl", *words])
    script = (
        f"source {ROOT / 'completions' / 'bulkctl.bash'}\n"
        f"COMP_WORDS=({line}); COMP_CWORD=$((${{#COMP_WORDS[@]}}-1)); _bulkctl\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    proc = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", script],
        capture_output=True,
        text=True,
        env={"PATH": env_path, "HOME": "/nonexistent"},
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    return [line for line in proc.stdout.splitlines() if line]


def test_bash_script_is_valid() -> None:
    subprocess.run(["bash", "-n", str(ROOT / "completions" / "bulkctl.bash")], check=True)


@pytest.mark.parametrize(("words", "expected"), BASH_CASES)
def test_bash_completes_without_starting_python(
    words: list[str], expected: list[str], fake_path: tuple[str, Path]
) -> None:
    env_path, calls = fake_path
    assert bash_complete(words, env_path) == expected
    assert not calls.exists(), "Tab started bulkctl for values the script knows"


def test_bash_asks_bulkctl_only_for_profile_names(fake_path: tuple[str, Path]) -> None:
    env_path, calls = fake_path
    assert bash_complete(["--profile", ""], env_path) == ["demo", "live"]
    assert calls.read_text().split() == ["config", "profiles"]


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_script_loads_and_completes(fake_path: tuple[str, Path]) -> None:
    env_path, calls = fake_path
    script = (
        f"source {ROOT / 'completions' / '_bulkctl'}\n"
        'compadd() { print -r -- "$*" }\n'
        "words=(bulkctl list --status RUN); CURRENT=4; _bulkctl\n"
        "words=(bulkctl --profile ''); CURRENT=3; _bulkctl\n"
    )
    proc = subprocess.run(
        ["zsh", "-f", "-c", script],
        capture_output=True,
        text=True,
        env={"PATH": env_path, "HOME": str(calls.parent)},
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].endswith("-- RUNNING")
    assert lines[1].endswith("-- demo live")


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_script_loads_and_completes(fake_path: tuple[str, Path]) -> None:
    env_path, calls = fake_path
    script = (
        f"source {ROOT / 'completions' / 'bulkctl.fish'}\n"
        "complete -C 'bulkctl list --status RUNNING,PA'\n"
    )
    proc = subprocess.run(
        ["fish", "--no-config", "-c", script],
        capture_output=True,
        text=True,
        env={"PATH": env_path, "HOME": str(calls.parent)},
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    assert [line.split("\t")[0] for line in proc.stdout.splitlines()] == [
        "RUNNING,PARTIALLY_COMPLETED",
        "RUNNING,PAUSED",
    ]
    assert not calls.exists()
