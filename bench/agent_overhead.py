"""Benchmark: the real agent's own CPU and memory at idle and under a steady process storm.

Starts a real server (SQLite in a temp dir) and the real agent process, waits until the
agent reports its process source, then measures the agent process:

  idle   CPU (% of one core) and RSS over --idle-seconds, with nothing started on purpose;
  load   the same while this script starts --rate processes a second for --load-seconds,
         then counts how many of the started processes reached the server's event table.

    python -m bench.agent_overhead --idle-seconds 30 --load-seconds 60 --rate 100

Needs root for the audit collector; HOSTWATCH_AGENT_PROCESS_SOURCE=poll measures the poller.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psutil
from sqlalchemy import create_engine, func, select
from tests.integration.procs import start_agent, stop, wait_for

from bench.serverproc import ServerProcess
from hostwatch.events.models import Event

TRUE = os.path.realpath("/bin/true")


def _sample(agent: psutil.Process, seconds: float, work: Any = None) -> dict[str, float]:
    """CPU share and RSS of `agent` over `seconds`, calling `work(now)` in between."""
    rss: list[int] = []
    start_cpu = sum(agent.cpu_times()[:2])
    start = time.monotonic()
    next_sample = start
    while (now := time.monotonic()) - start < seconds:
        if now >= next_sample:
            rss.append(agent.memory_info().rss)
            next_sample = now + 1.0
        if work is None:
            time.sleep(0.2)
        else:
            work(now)
    elapsed = time.monotonic() - start
    cpu = sum(agent.cpu_times()[:2]) - start_cpu
    return {
        "seconds": round(elapsed, 1),
        "cpu_percent_of_one_core": round(cpu / elapsed * 100, 2),
        "rss_mb_median": round(statistics.median(rss) / 2**20, 1),
        "rss_mb_max": round(max(rss) / 2**20, 1),
    }


class _Spawner:
    """Starts /bin/true MARKER-N at a fixed rate and reaps the children as they end."""

    def __init__(self, rate: float, marker: str) -> None:
        self.interval = 1.0 / rate
        self.marker = marker
        self.started = 0
        self._next = time.monotonic()
        self._children: set[int] = set()

    def __call__(self, now: float) -> None:
        while now >= self._next:
            argv = [TRUE, f"{self.marker}-{self.started}"]
            self._children.add(os.posix_spawn(TRUE, argv, os.environ))
            self.started += 1
            self._next += self.interval
        self.reap()
        time.sleep(max(0.0, min(self._next - time.monotonic(), 0.01)))

    def reap(self, block: bool = False) -> None:
        for pid in list(self._children):
            done, _ = os.waitpid(pid, 0 if block else os.WNOHANG)
            if done:
                self._children.discard(pid)


def run(idle_seconds: float, load_seconds: float, rate: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="hw-agent-bench-") as tmp:
        root = Path(tmp)
        database = root / "hostwatch.db"
        server = ServerProcess(root / "server", database_url=f"sqlite:///{database}")
        server.start()
        agent_process = None
        try:
            token = server.cli("enroll-token", "create").strip()
            server.cli(
                "users",
                "create",
                "bench",
                "--role",
                "admin",
                "--password-stdin",
                stdin="p" * 16 + "\n",
            )
            api_token = server.cli("tokens", "create", "--user", "bench").strip()
            api = httpx.Client(
                base_url=server.url, headers={"Authorization": f"Bearer {api_token}"}
            )
            agent_process = start_agent(server, root / "agent", token, heartbeat=2.0)
            engine = create_engine(f"sqlite:///{database}")

            def status() -> dict[str, Any] | None:
                devices = api.get("/api/devices").json().get("items") or []
                if not devices:
                    return None
                detail = api.get(f"/api/devices/{devices[0]['id']}").json()
                found = (detail.get("agent") or {}).get("status") or {}
                return found if found.get("process_source") else None

            source = wait_for(status, 120, "the agent's first status")["process_source"]
            agent = psutil.Process(agent_process.pid)
            time.sleep(10)  # let the first inventory and /proc snapshot finish

            def stored() -> int:
                with engine.connect() as conn:
                    return int(conn.execute(select(func.count(Event.id))).scalar_one())

            before_idle = stored()
            idle = _sample(agent, idle_seconds)
            time.sleep(3)  # what the idle window's own events cost must reach the table
            # The machine is shared: other users' processes are telemetry at "idle" too.
            idle["events_stored"] = stored() - before_idle

            marker = f"hwbench-{uuid.uuid4().hex[:8]}"
            spawner = _Spawner(rate, marker)
            load = _sample(agent, load_seconds, spawner)
            spawner.reap(block=True)
            load["started"] = spawner.started
            load["load_average_1m"] = round(os.getloadavg()[0], 2)

            def arrived() -> int:
                with engine.connect() as conn:
                    return int(
                        conn.execute(
                            select(func.count(Event.id)).where(
                                Event.action_type == "ProcessCreated",
                                Event.process_command_line.like(f"{TRUE} {marker}-%"),
                            )
                        ).scalar_one()
                    )

            deadline = time.monotonic() + 60
            seen = arrived()
            while seen < spawner.started and time.monotonic() < deadline:
                time.sleep(1)
                seen = arrived()
            time.sleep(4)  # one more heartbeat for the counters
            final = status() or {}
            load["events_arrived"] = seen
            load["events_lost"] = spawner.started - seen
            load["agent_summarized"] = final.get("summarized_events")
            load["agent_dropped"] = final.get("collector_dropped_events")
            load["kernel_lost"] = final.get("kernel_lost_events")
            engine.dispose()
            return {"process_source": source, "idle": idle, "load": load}
        finally:
            if agent_process is not None:
                stop(agent_process)
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument("--load-seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=100.0, help="process starts per second")
    args = parser.parse_args()
    result = run(args.idle_seconds, args.load_seconds, args.rate)
    result["load_average_before"] = os.getloadavg()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
