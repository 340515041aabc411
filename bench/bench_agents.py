"""Benchmark: enroll and heartbeat of N simulated agents against a real server process.

Each simulated agent speaks the real protocol over loopback HTTP. Reports requests per
second and latency percentiles for the enroll phase and the heartbeat phase.

    python -m bench.bench_agents --agents 200 --heartbeats 10 --concurrency 50
    python -m bench.bench_agents --database-url postgresql+psycopg://postgres@127.0.0.1/test
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psutil

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--heartbeats", type=int, default=10, help="heartbeats per agent")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--database-url", default="", help="default: SQLite in a temp dir")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="hw-bench-") as tmp:
        server = ServerProcess(Path(tmp), database_url=args.database_url)
        server.cli("db", "upgrade")
        token = server.cli("enroll-token", "create", "--max-uses", str(args.agents)).strip()
        server.start()
        try:
            results = asyncio.run(
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

    engine = "postgresql" if args.database_url.startswith("postgresql") else "sqlite"
    for row in results:
        row.update(engine=engine, agents=args.agents, concurrency=args.concurrency)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    columns = [
        ("engine", "engine"),
        ("phase", "phase"),
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
    print("| " + " | ".join(title for _, title in columns) + " |")
    print("|" + "---|" * len(columns))
    for r in results:
        print("| " + " | ".join(str(r[key]) for key, _ in columns) + " |")


if __name__ == "__main__":
    main()
