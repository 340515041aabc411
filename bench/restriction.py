"""Benchmark: what app restriction adds to starting a program.

A copy of /bin/true in a temporary directory, allowed by its sha256, is started --execs
times (posix_spawn and wait) without restriction and with the directory restricted by a
separate listener process (the agent's AppRestriction, real fanotify marks). The modes
alternate over --rounds rounds so both see the same machine load. Also timed: a refused
exec (a modified copy, answered FAN_DENY) under the same restriction.

    sudo python -m bench.restriction --execs 1000 --rounds 5

Needs root (fanotify permission marks). Marks only the temporary directory.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

LISTENER = r"""
import sys
from pathlib import Path
from hostwatch import protocol
from hostwatch.agent.restriction import AppRestriction

scope, state, allowed = sys.argv[1:4]
restrict = AppRestriction(Path(state), lambda events: None)
restrict.apply(protocol.RestrictParameters(scope=[scope], allow_sha256=[allowed]))
print("ready", flush=True)
sys.stdin.read()
restrict.close()
"""


def _spawn_times(path: str, count: int) -> list[float]:
    """Seconds for each posix_spawn + wait of `path`."""
    times = []
    for _ in range(count):
        start = time.perf_counter()
        pid = os.posix_spawn(path, [path], {})
        _, status = os.waitpid(pid, 0)
        times.append(time.perf_counter() - start)
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"{path} exited with status {status}")
    return times


def _refused_times(path: str, count: int) -> list[float]:
    times = []
    for _ in range(count):
        start = time.perf_counter()
        try:
            os.posix_spawn(path, [path], {})
        except PermissionError:
            times.append(time.perf_counter() - start)
        else:
            raise RuntimeError(f"{path} was not refused")
    return times


def run(execs: int, rounds: int) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="hw-bench-restrict-"))
    scope = work / "scope"
    scope.mkdir()
    allowed = scope / "true"
    shutil.copyfile(os.path.realpath("/bin/true"), allowed)
    allowed.chmod(0o755)
    refused = scope / "modified"
    shutil.copyfile(allowed, refused)
    with refused.open("ab") as out:
        out.write(b"\0")
    refused.chmod(0o755)
    digest = hashlib.sha256(allowed.read_bytes()).hexdigest()
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1] / "src"))

    without: list[float] = []
    with_restriction: list[float] = []
    refusals: list[float] = []
    try:
        for _ in range(rounds):
            without += _spawn_times(str(allowed), execs)
            listener = subprocess.Popen(
                [sys.executable, "-c", LISTENER, str(scope), str(work / "state"), digest],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env=env,
            )
            try:
                assert listener.stdout is not None and listener.stdin is not None
                if listener.stdout.readline().strip() != "ready":
                    raise RuntimeError("the listener did not start")
                _spawn_times(str(allowed), 1)  # the first exec hashes the file; later ones hit
                with_restriction += _spawn_times(str(allowed), execs)
                refusals += _refused_times(str(refused), max(1, execs // 10))
                listener.stdin.close()
                listener.wait(30)
            finally:
                if listener.poll() is None:
                    listener.kill()
                    listener.wait(30)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    base = statistics.median(without)
    restricted = statistics.median(with_restriction)
    return {
        "execs_per_round": execs,
        "rounds": rounds,
        "median_us_without": round(base * 1e6, 1),
        "median_us_with": round(restricted * 1e6, 1),
        "ratio": round(restricted / base, 2),
        "added_us": round((restricted - base) * 1e6, 1),
        "p95_us_without": round(statistics.quantiles(without, n=20)[18] * 1e6, 1),
        "p95_us_with": round(statistics.quantiles(with_restriction, n=20)[18] * 1e6, 1),
        "refused_median_us": round(statistics.median(refusals) * 1e6, 1),
        "load_average": os.getloadavg()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--execs", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(json.dumps(run(args.execs, args.rounds), indent=2))


if __name__ == "__main__":
    main()
