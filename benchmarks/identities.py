"""Measure issue 23's identities target and print one table.

    python benchmarks/identities.py                     # 300 identities, 100 per 10 s (~55 s)
    python benchmarks/identities.py --identities 60     # a quicker look (~10 s)

``bulkctl emulator serve --identities N --quota 100/10s --log`` runs as its own process;
``bulkctl list --identities @ids.txt -s failed --all --json``, paced at the served quota
(``BULKCTL_RATE_LIMIT=100/10s``), reads every FAILED bulk of every identity with one API
key: a token each (``POST /access_token``) and a page each, every request through the one
pacer. Printed: the requests and the quota answers (429, or 409 TOO_MANY_REQUESTS, counted
from the emulator's log), whether every FAILED bulk of every identity came back (checked
against the same seeded data built here), and the time against the least time the quota
allows ((ceil(requests / 100) - 1) windows, counting the requests needed: a quota
answer's repeat is not one). Targets: 0-3 quota answers, every bulk, and
at most one window more than the least time.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the harness in tests/

from bulkctl.emulator.auth import served_identities
from bulkctl.emulator.state import SEED, EmulatorState
from tests.serving import bulkctl_command, emulator_process

ANSWER = re.compile(r'" (\d{3}) ')


def expected_failed(identities: int, bulks: int) -> dict[str, set[str]]:
    """Each identity's FAILED bulk ids, seeded as the emulator seeds them."""
    now = time.time()
    return {
        f"{kind.lower()}:{ident}": set(
            EmulatorState(bulks=bulks, seed=SEED + index, now=now).listing("FAILED")
        )
        for index, (kind, ident) in enumerate(served_identities(identities))
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--identities", type=int, default=300)
    parser.add_argument("--bulks", type=int, default=300, help="each identity's")
    parser.add_argument("--quota", type=int, default=100, help="requests per window")
    parser.add_argument("--window", type=int, default=10, help="seconds")
    args = parser.parse_args()
    quota = f"{args.quota}/{args.window}s"
    with tempfile.TemporaryDirectory() as home, emulator_process(
        "--identities", str(args.identities), "--bulks", str(args.bulks),
        "--quota", quota, "--log", stderr=subprocess.PIPE,
    ) as (multi, server):  # fmt: skip
        log: list[str] = []
        assert server.stderr is not None
        pump = threading.Thread(target=log.extend, args=(server.stderr,), daemon=True)
        pump.start()
        ids = Path(home) / "ids.txt"
        names = [f"{k.lower()}:{i}" for k, i in served_identities(args.identities)]
        ids.write_text("# every identity the emulator serves\n" + "\n".join(names) + "\n")
        env = {
            **os.environ,
            "XDG_CONFIG_HOME": f"{home}/config",
            "XDG_STATE_HOME": f"{home}/state",
            "NO_PROXY": "127.0.0.1",
            "BULKCTL_BASE_URL": multi + "/backoffice",
            "BULKCTL_API_KEY": "demo-api-key-7f3a",
            "BULKCTL_RATE_LIMIT": quota,
        }
        started = time.monotonic()
        run = subprocess.run(
            [*bulkctl_command(), "list", "--identities", f"@{ids}", "-s", "failed", "--all", "--json"],
            env=env, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        elapsed = time.monotonic() - started
    pump.join(timeout=10)  # the server has stopped: its log is complete
    answers = [int(code) for line in log for code in ANSWER.findall(line)]
    refused = sum(1 for a in answers if a in (409, 429))
    document = json.loads(run.stdout) if run.stdout.strip() else {"bulks": [], "errors": []}
    got: dict[str, set[str]] = {}
    for bulk in document["bulks"]:
        got.setdefault(bulk["identity"], set()).add(bulk["bulkId"])
    want = expected_failed(args.identities, args.bulks)
    complete = all(got.get(name, set()) == ids_ for name, ids_ in want.items())
    needed = len(answers) - refused  # a quota answer's repeat is not a request needed
    least = (math.ceil(needed / args.quota) - 1) * args.window
    late = (elapsed - least) / args.window
    ok = run.returncode == 0 and complete and refused <= 3 and late <= 1.0
    print(f"identities            {args.identities} (quota {quota}, rate_limit {quota})")
    print(f"exit code             {run.returncode}; errors {len(document['errors'])}")
    print(f"FAILED bulks          {len(document['bulks'])}, every identity's: {complete}")
    print(f"requests              {needed} ({args.identities} tokens, the rest pages)")
    print(f"quota answers         {refused} (target 0-3)")
    print(
        f"time                  {elapsed:.1f} s; least {least} s; {late:+.2f} windows (target <= 1)"
    )
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
