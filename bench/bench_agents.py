"""Benchmark: enroll and heartbeat of N simulated agents against a real server process.

Each simulated agent speaks the real protocol over loopback HTTP. Reports requests per
second and latency percentiles for the enroll phase and the heartbeat phase.

    python -m bench.bench_agents --agents 200 --heartbeats 10 --concurrency 50 --repeat 3

SQLite runs in a temp dir; PostgreSQL in a database the benchmark creates and drops.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psutil

from bench.pgdb import pg_database
from bench.serverproc import ServerProcess
from hostwatch import protocol


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _summary(
    name: str, latencies: list[float], elapsed: float, failures: int, server_cpu: float
) -> dict[str, object]:
    return {
        "server_cpu_ms_per_request": round(server_cpu / len(latencies) * 1000, 2),
        "phase": name,
        "requests": len(latencies),
        "failures": failures,
        "seconds": round(elapsed, 3),
        "requests_per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p95_ms": round(_percentile(latencies, 0.95) * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1),
    }


def _cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


async def _run(
    url: str, token: str, agents: int, heartbeats: int, concurrency: int, server_pid: int
) -> list[dict[str, object]]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:

        async def timed(
            method: str, path: str, body: dict[str, object], headers: dict[str, str]
        ) -> tuple[float, httpx.Response]:
            async with gate:
                start = time.perf_counter()
                response = await client.request(method, path, json=body, headers=headers)
                return time.perf_counter() - start, response

        async def enroll(i: int) -> tuple[float, httpx.Response]:
            host = {"hostname": f"sim-{i:05d}", "os_family": "linux", "machine_id": f"sim-{i:05d}"}
            body = {"enroll_token": token, "agent_version": "bench", "host": host}
            return await timed("POST", protocol.ENROLL_PATH, body, {})

        cpu = _cpu_seconds(server_pid)
        start = time.perf_counter()
        enrolled = await asyncio.gather(*(enroll(i) for i in range(agents)))
        enroll_elapsed = time.perf_counter() - start
        enroll_cpu = _cpu_seconds(server_pid) - cpu
        credentials = [r.json()["credential"] for _, r in enrolled if r.status_code == 200]
        enroll_failures = agents - len(credentials)

        async def beat(credential: str) -> tuple[float, httpx.Response]:
            body = {"agent_version": "bench", "sent_at": datetime.now(UTC).isoformat()}
            return await timed(
                "POST", protocol.HEARTBEAT_PATH, body, {"Authorization": f"Bearer {credential}"}
            )

        cpu = _cpu_seconds(server_pid)
        start = time.perf_counter()
        beats = await asyncio.gather(*(beat(c) for _ in range(heartbeats) for c in credentials))
        beat_elapsed = time.perf_counter() - start
        beat_cpu = _cpu_seconds(server_pid) - cpu
        beat_failures = sum(1 for _, r in beats if r.status_code != 200)

    return [
        _summary("enroll", [t for t, _ in enrolled], enroll_elapsed, enroll_failures, enroll_cpu),
        _summary("heartbeat", [t for t, _ in beats], beat_elapsed, beat_failures, beat_cpu),
    ]


def _one_run(args: argparse.Namespace, database_url: str) -> list[dict[str, object]]:
    with tempfile.TemporaryDirectory(prefix="hw-bench-") as tmp:
        server = ServerProcess(Path(tmp), database_url=database_url)
        server.cli("db", "upgrade")
        token = server.cli("enroll-token", "create", "--max-uses", str(args.agents)).strip()
        server.start()
        assert server.process is not None
        try:
            return asyncio.run(
                _run(
                    server.url,
                    token,
                    args.agents,
                    args.heartbeats,
                    args.concurrency,
                    server.process.pid,
                )
            )
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--heartbeats", type=int, default=10, help="heartbeats per agent")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--repeat", type=int, default=3, help="runs per engine; medians shown")
    parser.add_argument(
        "--pg-admin",
        default="host=127.0.0.1 port=5432 dbname=test user=postgres",
        help="where to create and drop the benchmark's PostgreSQL database",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    runs: dict[tuple[str, str], list[dict[str, object]]] = {}
    pg_name = f"hw_bench_{os.getpid()}"
    # Engines alternate inside each round, so both see the same machine load.
    for _ in range(args.repeat):
        for engine in args.engines.split(","):
            url = ""
            if engine == "postgresql":
                pg_database(args.pg_admin, pg_name, create=True)
                url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{pg_name}"
            try:
                for row in _one_run(args, url):
                    runs.setdefault((engine, str(row["phase"])), []).append(row)
            finally:
                if engine == "postgresql":
                    pg_database(args.pg_admin, pg_name, create=False)

    results = []
    for (engine, phase), rows in runs.items():
        median = {
            key: statistics.median(float(r[key]) for r in rows)  # type: ignore[arg-type]
            for key in rows[0]
            if key != "phase"
        }
        results.append(
            {
                "engine": engine,
                "phase": phase,
                "runs": len(rows),
                "agents": args.agents,
                "concurrency": args.concurrency,
                **median,
            }
        )
    if args.json:
        print(json.dumps(results, indent=2))
        return
    columns = [
        ("engine", "engine"),
        ("phase", "phase"),
        ("runs", "runs"),
        ("agents", "agents"),
        ("concurrency", "concurrency"),
        ("requests", "requests"),
        ("failures", "failures"),
        ("requests_per_second", "req/s"),
        ("p50_ms", "p50 ms"),
        ("p95_ms", "p95 ms"),
        ("max_ms", "max ms"),
        ("server_cpu_ms_per_request", "server CPU ms/req"),
    ]
    print("Medians over the runs:")
    print("| " + " | ".join(title for _, title in columns) + " |")
    print("|" + "---|" * len(columns))
    for r in results:
        print("| " + " | ".join(_cell(r[key]) for key, _ in columns) + " |")


def _cell(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


if __name__ == "__main__":
    main()
