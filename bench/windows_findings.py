"""Benchmark: what a Windows device's missing-KB findings add to its findings refresh.

Microsoft's four shared monthly documents imported; a Windows 10 22H2 device with 300
desktop programs (bench/vulns.py's list) on a build from before December 2023, so it misses
four cumulative updates (123 CVEs). "refresh" is the second `findings.refresh_device` (the
findings already stored), commit included; "windows findings" is the step that reads the
device's missing updates and turns them into findings, alone; "refresh, build unknown" is the
same device without a build revision (the step finds nothing).

    python -m bench.windows_findings --repeat 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from bench.pgdb import PG_ADMIN, pg_database
from bench.vulns import SHARED, _import, _programs
from hostwatch.db import migrate
from hostwatch.db.engine import make_engine, make_session_factory, transaction
from hostwatch.devices.models import Device, Software
from hostwatch.vulns import findings, windows_findings


def _device(sessions: sessionmaker[Session], build: str | None) -> str:
    with transaction(sessions) as session:
        device = Device(
            hostname=f"win-{build}",
            os_family="windows",
            os_name="Microsoft Windows 10 Pro",
            os_version="10.0.19045",
            os_build=build,
            os_arch="64-bit",
        )
        session.add(device)
        session.flush()
        session.add_all(Software(device_id=device.id, **item) for item in _programs(300))
        return device.id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--pg-admin", default=PG_ADMIN)
    args = parser.parse_args()
    times: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="hw-bench-winkb-") as tmp:
        for name in args.engines.split(","):
            pg_name = f"hw_bench_winkb_{os.getpid()}"
            if name == "sqlite":
                url = f"sqlite:///{Path(tmp) / 'bench.db'}"
            else:
                pg_database(args.pg_admin, pg_name, create=True)
                url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{pg_name}"
            engine = make_engine(url)
            try:
                migrate.upgrade(engine)
                _import(engine, [SHARED / "data" / "msrc_cvrf"])
                sessions = make_session_factory(engine)
                for label, build in (("", "10.0.19045.3693"), (", build unknown", None)):
                    device_id = _device(sessions, build)
                    with transaction(sessions) as session:
                        findings.refresh_device(session, device_id)
                    for _ in range(args.repeat):
                        started = time.perf_counter()
                        with transaction(sessions) as session:
                            result = findings.refresh_device(session, device_id)
                        times.setdefault((name, f"refresh{label}"), []).append(
                            time.perf_counter() - started
                        )
                        with sessions() as session:
                            device = session.get(Device, device_id)
                            assert device is not None
                            started = time.perf_counter()
                            found = windows_findings.findings_of(session, device)
                            times.setdefault((name, f"windows findings{label}"), []).append(
                                time.perf_counter() - started
                            )
                            session.rollback()
                    print(f"{name}{label}: {result.affected} affected, {len(found)} Windows")
            finally:
                engine.dispose()
                if name == "postgresql":
                    pg_database(args.pg_admin, pg_name, create=False)
    print(f"load average: {os.getloadavg()}")
    print("| engine | step | runs | median s | min s | max s |")
    print("|---|---|---|---|---|---|")
    for (engine_name, step), values in times.items():
        print(
            f"| {engine_name} | {step} | {len(values)} | {statistics.median(values):.4f} "
            f"| {min(values):.4f} | {max(values):.4f} |"
        )


if __name__ == "__main__":
    main()
