"""Benchmark: replacing one device's 50,000-item software inventory, on SQLite and PostgreSQL.

Times `hostwatch.devices.inventory.replace_inventory` in its own write transaction, commit
included, the way the agent route runs it (request parsing is not part of it). Each run
uses a fresh device in the same database, so the table also holds the earlier runs' rows:

- first:  the device's first snapshot (every item is new);
- second: the next snapshot, with ~5% of the items changed: a third removed, a third new,
  a third with new details (vendor, status, install path).

    python -m bench.inventory_replace --items 50000 --repeat 3
    python -m bench.inventory_replace --impl /tmp/old_inventory.py   # another implementation

SQLite runs in a temp dir; PostgreSQL in a database the benchmark creates and drops.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from bench.pgdb import pg_database
from hostwatch import protocol
from hostwatch.db import migrate
from hostwatch.db.base import utcnow
from hostwatch.db.engine import make_engine, make_session_factory, transaction
from hostwatch.devices import inventory
from hostwatch.devices.models import AgentCredential, Device, Software

Replace = Callable[[Session, AgentCredential, protocol.InventoryUpload], protocol.InventoryResult]
SOURCES = ("dpkg", "rpm", "pip", "npm")


def _load_replace(path: str | None) -> Replace:
    if path is None:
        return inventory.replace_inventory
    spec = importlib.util.spec_from_file_location("bench_inventory_impl", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    replace: Replace = module.replace_inventory
    return replace


def _item(i: int, vendor: str = "Example Corp", status: str = "installed") -> dict[str, Any]:
    return {
        "source": SOURCES[i % len(SOURCES)],
        "name": f"package-{i:06d}",
        "version": f"{i % 7}.{i % 13}.{i % 101}",
        "arch": "amd64" if i % 3 else "all",
        "vendor": vendor,
        "source_package": f"src-{i // 4:06d}",
        "install_path": f"/usr/lib/package-{i:06d}",
        "status": status,
    }


def _uploads(items: int) -> tuple[protocol.InventoryUpload, protocol.InventoryUpload, int]:
    """The first snapshot, the second (~5% changed), and the second's expected row count."""
    host = {"hostname": "bench-box", "os_family": "linux", "machine_id": "bench"}
    first = [_item(i) for i in range(items)]
    second: list[dict[str, Any]] = []
    for i in range(items):
        step = i % 60
        if step == 0:
            continue  # removed
        if step == 20:
            second.append(_item(i, vendor="Other Corp", status="half-installed"))  # changed
            continue
        second.append(_item(i))
        if step == 40:
            second.append(_item(items + i))  # added
    made = [
        protocol.InventoryUpload.model_validate(
            {"collected_at": utcnow(), "host": host, "software": software}
        )
        for software in (first, second)
    ]
    return made[0], made[1], len(second)


def _new_device(engine: Engine) -> str:
    with transaction(make_session_factory(engine)) as session:
        device = Device(hostname="bench-box", sources=["agent"])
        session.add(device)
        session.flush()
        session.add(AgentCredential(device_id=device.id, credential_hash=secrets.token_hex(32)))
        return device.id


def _timed_replace(
    engine: Engine, replace: Replace, device_id: str, upload: protocol.InventoryUpload
) -> float:
    factory = make_session_factory(engine)
    started = time.perf_counter()
    with transaction(factory) as session:
        credential = session.get(AgentCredential, device_id)
        assert credential is not None
        replace(session, credential, upload)
    return time.perf_counter() - started


def _rows(engine: Engine, device_id: str) -> int:
    with make_session_factory(engine)() as session:
        count = session.scalar(
            select(func.count(Software.id)).where(Software.device_id == device_id)
        )
        return int(count or 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=protocol.MAX_SOFTWARE_ITEMS)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--repeat", type=int, default=3, help="runs per engine; medians shown")
    parser.add_argument(
        "--impl", default=None, help="a file defining replace_inventory to time instead"
    )
    parser.add_argument(
        "--pg-admin",
        default="host=127.0.0.1 port=5432 dbname=test user=postgres",
        help="where to create and drop the benchmark's PostgreSQL database",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    replace = _load_replace(args.impl)
    first, second, second_rows = _uploads(args.items)
    engines = args.engines.split(",")
    times: dict[tuple[str, str], list[float]] = {}
    pg_name = f"hw_bench_inventory_{os.getpid()}"
    with tempfile.TemporaryDirectory(prefix="hw-bench-") as tmp:
        urls = {"sqlite": f"sqlite:///{Path(tmp) / 'hostwatch.db'}"}
        if "postgresql" in engines:
            pg_database(args.pg_admin, pg_name, create=True)
            urls["postgresql"] = f"postgresql+psycopg://postgres@127.0.0.1:5432/{pg_name}"
        made = {name: make_engine(urls[name]) for name in engines}
        try:
            for engine in made.values():
                migrate.upgrade(engine)
            # Engines alternate inside each round, so both see the same machine load.
            for _ in range(args.repeat):
                for name, engine in made.items():
                    device_id = _new_device(engine)
                    for phase, upload, rows in (
                        ("first", first, args.items),
                        ("second", second, second_rows),
                    ):
                        seconds = _timed_replace(engine, replace, device_id, upload)
                        stored = _rows(engine, device_id)
                        if stored != rows:
                            raise SystemExit(f"{name} {phase}: {stored} rows, expected {rows}")
                        times.setdefault((name, phase), []).append(seconds)
        finally:
            for engine in made.values():
                engine.dispose()
            if "postgresql" in engines:
                pg_database(args.pg_admin, pg_name, create=False)

    results = [
        {
            "engine": name,
            "phase": phase,
            "items": len((first if phase == "first" else second).software),
            "runs": len(values),
            "median_s": round(statistics.median(values), 3),
            "min_s": round(min(values), 3),
            "max_s": round(max(values), 3),
        }
        for (name, phase), values in times.items()
    ]
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print("| engine | phase | items | runs | median s | min s | max s |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['engine']} | {r['phase']} | {r['items']} | {r['runs']} "
            f"| {r['median_s']} | {r['min_s']} | {r['max_s']} |"
        )


if __name__ == "__main__":
    main()
