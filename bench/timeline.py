"""Benchmark: the timeline API's queries over one device with a million events.

Builds a synthetic device (a realistic mix of event kinds over 90 days, process guids that
form trees, Windows-like command lines), bulk-inserts it into a temp SQLite file and into
a PostgreSQL database the benchmark creates and drops, then reports the median of each
query over several runs, and the export's rows per second and peak memory.

Times are those of the functions the routes call, without HTTP; the export runs through
the route's own streaming generator. The load average is printed beside the figures: on a
shared machine, other work shows in them.

    python -m bench.timeline --events 1000000 --days 90 --runs 7
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import Engine, func, insert, select, text
from sqlalchemy.orm import Session

from bench.pgdb import PG_ADMIN, pg_database
from hostwatch.api.app import create_app
from hostwatch.config import Settings
from hostwatch.db import migrate, paging
from hostwatch.db.base import utcnow
from hostwatch.db.engine import make_engine, make_session_factory
from hostwatch.devices.models import Device
from hostwatch.events import export, histogram, timeline, tree
from hostwatch.events.models import Event

DEVICE_ID = "00000000-0000-4000-8000-000000000001"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
END = datetime(2026, 11, 30, tzinfo=UTC)
RARE_WORD = "mimikatz"
COMMON_WORD = "powershell"

# Share of each kind among the events (Sysmon-like telemetry of a busy workstation).
KINDS = {
    "process": 0.10,
    "network": 0.22,
    "file": 0.20,
    "registry": 0.20,
    "dns": 0.14,
    "image_load": 0.10,
    "logon": 0.02,
    "script": 0.01,
    "service": 0.005,
    "scheduled_task": 0.003,
    "antivirus": 0.002,
}
ACTIONS = {
    "process": ["ProcessCreated"],
    "network": ["ConnectionSuccess", "ConnectionFailed", "InboundConnectionAccepted"],
    "file": ["FileCreated", "FileModified", "FileDeleted"],
    "registry": ["RegistryValueSet", "RegistryKeyCreated", "RegistryKeyDeleted"],
    "dns": ["DnsQuery"],
    "image_load": ["ImageLoaded"],
    "logon": ["LogonSuccess", "LogonFailed"],
    "script": ["PowerShellCommand"],
    "service": ["ServiceInstalled"],
    "scheduled_task": ["ScheduledTaskCreated"],
    "antivirus": ["AntivirusDetection"],
}
PROGRAMS = [
    (r"C:\Windows\System32\svchost.exe", "svchost.exe -k netsvcs -p -s {word}"),
    (r"C:\Windows\System32\cmd.exe", 'cmd.exe /c "{path}\\{word}.bat" {n}'),
    (
        r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
        "powershell.exe -NoProfile -ExecutionPolicy Bypass -File {path}\\{word}.ps1",
    ),
    (r"C:\Program Files\Google\Chrome\Application\chrome.exe", "chrome.exe --type=renderer {n}"),
    (r"C:\Windows\System32\conhost.exe", r"\??\C:\Windows\system32\conhost.exe 0x{n:x} -Force"),
    (r"C:\Windows\System32\rundll32.exe", "rundll32.exe {path}\\{word}.dll,Start {n}"),
    (r"C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE", 'WINWORD.EXE /n "{path}"'),
    (r"C:\Windows\System32\taskhostw.exe", "taskhostw.exe {word} {n}"),
    (r"C:\Windows\System32\wbem\WmiPrvSE.exe", "wmiprvse.exe -secured -Embedding {n}"),
    (r"C:\Program Files\Git\usr\bin\ssh.exe", "ssh.exe git@github.com git-upload-pack {word}"),
]
WORDS = ["Schedule", "BITS", "update", "report", "backup", "sync", "installer", "helper", "svc"]
FOLDERS = [
    r"C:\Users\alice\AppData\Local\Temp",
    r"C:\Users\alice\Documents",
    r"C:\ProgramData\Vendor",
    r"C:\Windows\Temp",
]
DOMAINS = ["login.microsoftonline.com", "www.google.com", "github.com", "cdn.example.net"]
# Every row carries every column, so that one executemany takes them all.
OPTIONAL = [
    "user",
    "process_id",
    "process_image",
    "process_command_line",
    "process_sha256",
    "process_guid",
    "parent_process_id",
    "parent_process_image",
    "parent_process_command_line",
    "parent_process_guid",
    "target_file",
    "target_registry_key",
    "target_registry_value",
    "remote_address",
    "remote_port",
    "local_address",
    "local_port",
    "dns_name",
]
USERS = [r"CORP\alice", r"NT AUTHORITY\SYSTEM", r"NT AUTHORITY\LOCAL SERVICE", r"CORP\bob"]


MAX_TREE_DEPTH = 6


@dataclass
class Proc:
    guid: str
    pid: int
    image: str
    command_line: str
    user: str
    depth: int = 0


class Generator:
    """Events in time order; process creations form trees through their parent guids."""

    def __init__(self, device_id: str, count: int, days: int, seed: int = 7) -> None:
        self.device_id = device_id
        self.count = count
        self.start = END - timedelta(days=days)
        self.step = timedelta(days=days) / count
        self.rand = random.Random(seed)
        self.kinds = list(KINDS)
        self.weights = list(KINDS.values())
        self.next_pid = 1000
        self.spawned = 0
        root = Proc(self._guid(), 4, "System", "System", USERS[1])
        explorer = Proc(self._guid(), 4242, r"C:\Windows\explorer.exe", "explorer.exe", USERS[0])
        self.roots = [root, explorer]
        self.live: list[Proc] = [root, explorer]
        # Keys of events to draw process trees for: one by a deep process, one by a root.
        self.deep_key: str | None = None
        self.root_key: str | None = None

    def _guid(self) -> str:
        return "{" + str(uuid.UUID(int=self.rand.getrandbits(128))) + "}"

    def _spawn(self, parent: Proc) -> Proc:
        image, template = self.rand.choice(PROGRAMS)
        self.next_pid = (self.next_pid + self.rand.randint(4, 400)) % 60000 + 400
        self.spawned += 1
        # A handful of processes in the whole data set: a search that must read every row.
        word = RARE_WORD if self.spawned % 20_000 == 0 else self.rand.choice(WORDS)
        line = template.format(
            word=word, path=self.rand.choice(FOLDERS), n=self.rand.randint(1, 99999)
        )
        user = parent.user if self.rand.random() < 0.8 else self.rand.choice(USERS)
        return Proc(self._guid(), self.next_pid, image, line, user, parent.depth + 1)

    def row(self, index: int) -> dict[str, Any]:
        moment = self.start + self.step * index
        kind = self.rand.choices(self.kinds, self.weights)[0]
        row: dict[str, Any] = {
            "device_id": self.device_id,
            "dedupe_key": f"bench:{index}",
            "time": moment,
            "received_at": moment,
            "source": "sysmon",
            "event_code": None,
            "kind": kind,
            "action_type": self.rand.choice(ACTIONS[kind]),
            "fields": {},
            **dict.fromkeys(OPTIONAL),
        }
        if kind == "process":
            # Parents are mostly recent processes, sometimes a long-lived root, so trees
            # are both wide (the roots have thousands of children) and a few levels deep.
            parent = self.rand.choice(self.live[-50:])
            if parent.depth >= MAX_TREE_DEPTH or self.rand.random() < 0.2:
                parent = self.rand.choice(self.roots)
            child = self._spawn(parent)
            self.live.append(child)
            if len(self.live) > 500:
                del self.live[:100]
            row.update(
                event_code="1",
                user=child.user,
                process_id=child.pid,
                process_image=child.image,
                process_command_line=child.command_line,
                process_guid=child.guid,
                parent_process_id=parent.pid,
                parent_process_image=parent.image,
                parent_process_command_line=parent.command_line,
                parent_process_guid=parent.guid,
            )
        else:
            actor = (
                self.rand.choice(self.roots)
                if self.rand.random() < 0.1
                else self.rand.choice(self.live[-80:])
            )
            row.update(
                user=actor.user,
                process_id=actor.pid,
                process_image=actor.image,
                process_guid=actor.guid,
            )
            self._target(row, kind)
            if kind == "file" and actor.depth >= 4:
                self.deep_key = row["dedupe_key"]
            elif kind == "file" and actor.depth == 0:
                self.root_key = row["dedupe_key"]
        row["fields"] = {
            "RuleName": "-",
            "UtcTime": moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
            "ProcessGuid": row.get("process_guid"),
            "ProcessId": str(row.get("process_id")),
            "Image": row.get("process_image"),
            "CommandLine": row.get("process_command_line"),
            "User": row.get("user"),
            "TargetFilename": row.get("target_file"),
        }
        return row

    def _target(self, row: dict[str, Any], kind: str) -> None:
        rand = self.rand
        if kind == "network":
            row["event_code"] = "3"
            row["remote_address"] = f"10.{rand.randint(0, 255)}.{rand.randint(0, 255)}.7"
            row["remote_port"] = rand.choice([443, 80, 445, 22, 3389])
            row["local_address"] = "10.0.0.5"
            row["local_port"] = rand.randint(49152, 65535)
        elif kind in {"file", "image_load"}:
            row["event_code"] = "11" if kind == "file" else "7"
            suffix = ".dll" if kind == "image_load" else rand.choice([".tmp", ".log", ".docx"])
            row["target_file"] = (
                f"{rand.choice(FOLDERS)}\\{rand.choice(WORDS)}{rand.randint(1, 999)}{suffix}"
            )
        elif kind == "registry":
            row["event_code"] = "13"
            row["target_registry_key"] = (
                rf"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Run\{rand.choice(WORDS)}"
            )
            row["target_registry_value"] = rf"{rand.choice(FOLDERS)}\{rand.choice(WORDS)}.exe"
        elif kind == "dns":
            row["event_code"] = "22"
            row["dns_name"] = f"{rand.choice(WORDS).lower()}.{rand.choice(DOMAINS)}"

    def chunks(self, size: int = 20_000) -> Iterator[list[dict[str, Any]]]:
        for start in range(0, self.count, size):
            yield [self.row(i) for i in range(start, min(start + size, self.count))]


@dataclass
class Target:
    """One database the synthetic device is loaded into."""

    engine_name: str
    url: str
    engine: Engine
    insert_seconds: float = 0.0
    sizes: dict[str, str] = field(default_factory=dict)


def _prepare(target: Target) -> None:
    migrate.upgrade(target.engine)
    with target.engine.begin() as connection:
        connection.execute(
            insert(Device.__table__).values(
                id=DEVICE_ID,
                hostname="bench-ws",
                ip_addresses=[],
                mac_addresses=[],
                resources={},
                logged_on_users=[],
                sources=["agent"],
                created_at=utcnow(),
            )
        )


@contextmanager
def sqlite_target(folder: Path) -> Iterator[Target]:
    url = f"sqlite:///{folder / 'bench.db'}"
    engine = make_engine(url)
    try:
        target = Target("sqlite", url, engine)
        _prepare(target)
        yield target
    finally:
        engine.dispose()


@contextmanager
def postgresql_target() -> Iterator[Target]:
    name = f"hw_bench_{uuid.uuid4().hex[:12]}"
    pg_database(PG_ADMIN, name, create=True)
    url = PG_URL.format(name=name)
    engine = make_engine(url)
    try:
        target = Target("postgresql", url, engine)
        _prepare(target)
        yield target
    finally:
        engine.dispose()
        pg_database(PG_ADMIN, name, create=False)


def load(targets: list[Target], generator: Generator) -> None:
    """Insert the generated events into every target, one executemany per chunk."""
    table = Event.__table__
    done = 0
    for chunk in generator.chunks():
        for target in targets:
            start = time.perf_counter()
            with target.engine.begin() as connection:
                connection.execute(insert(table), chunk)
            target.insert_seconds += time.perf_counter() - start
        done += len(chunk)
        print(f"  loaded {done:,} of {generator.count:,} events", end="\r", flush=True)
    print()
    for target in targets:
        if target.engine_name == "postgresql":
            # What autovacuum would have done by the time anyone looks at the timeline.
            with target.engine.connect() as connection:
                connection.execution_options(isolation_level="AUTOCOMMIT").execute(
                    text("VACUUM ANALYZE")
                )
                size = connection.scalar(
                    text("SELECT pg_size_pretty(pg_database_size(current_database()))")
                )
            target.sizes["database"] = str(size)
        else:
            path = Path(target.engine.url.database or "")
            target.sizes["database"] = f"{path.stat().st_size / 2**20:.0f} MB"


def _timed(work: Callable[[], Any], runs: int) -> dict[str, float]:
    work()  # warm the caches: every run after this one sees the same state
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1000)
    return {
        "median_ms": round(statistics.median(times), 1),
        "min_ms": round(min(times), 1),
        "max_ms": round(max(times), 1),
    }


def _event_id(session: Session, key: str | None) -> int:
    found = session.scalar(
        select(Event.id).where(Event.device_id == DEVICE_ID, Event.dedupe_key == key)
    )
    assert found is not None, f"no event {key}"
    return found


def measure_queries(target: Target, generator: Generator, runs: int) -> dict[str, Any]:
    sessions = make_session_factory(target.engine)
    every_field = tuple(timeline.FIELDS)
    with sessions() as session:
        deep_event = _event_id(session, generator.deep_key)
        root_event = _event_id(session, generator.root_key)

    def first_page(cursor: str | None = None, **filters: Any) -> Callable[[], Any]:
        def run() -> Any:
            with sessions() as session:
                found = timeline.make_filters(session, DEVICE_ID, **filters)
                return timeline.page(session, found, fields=every_field, cursor=cursor)

        return run

    # A page half-way through the week: keyset paging seeks there, it does not count there.
    middle = paging.encode_cursor(END - timedelta(days=3, hours=12), 0)

    def month_histogram(q: str | None = None) -> Any:
        with sessions() as session:
            found = timeline.make_filters(
                session, DEVICE_ID, start=END - timedelta(days=30), end=END, q=q
            )
            return histogram.histogram(session, found)

    def tree_of(event_id: int) -> Callable[[], Any]:
        def run() -> Any:
            with sessions() as session:
                return tree.process_tree(session, event_id)

        return run

    # The first histogram after the bulk load: on SQLite it counts the million new events
    # past the rollup's mark and folds them in (see events/histogram.py).
    start = time.perf_counter()
    month_histogram()
    first_histogram = {"median_ms": round((time.perf_counter() - start) * 1000, 1)}
    first_histogram.update(min_ms=first_histogram["median_ms"], max_ms=first_histogram["median_ms"])

    cases: dict[str, Callable[[], Any]] = {
        "first page, 7 days": first_page(),
        "page in the middle of 7 days": first_page(cursor=middle),
        "histogram, 30 days": month_histogram,
        "histogram, 30 days, rare word": lambda: month_histogram(q=RARE_WORD),
        "kind filter (dns), 7 days": first_page(kinds=["dns"]),
        "kind filter (2 rare kinds), 7 days": first_page(kinds=["service", "antivirus"]),
        "text search, rare word, 7 days": first_page(q=RARE_WORD),
        "text search, common word, 7 days": first_page(q=COMMON_WORD),
        "process tree, deep process": tree_of(deep_event),
        "process tree, root process": tree_of(root_event),
    }
    timed = {name: _timed(work, runs) for name, work in cases.items()}
    return {"histogram, 30 days, first after the load (once)": first_histogram, **timed}


async def _export_once(
    app_state: Any, filters: timeline.Filters, sample_rss: bool
) -> tuple[int, float, float, int]:
    """Rows written, seconds taken, CPU seconds of this process (every thread), and the
    largest growth of the process's RSS seen."""
    process = psutil.Process()
    base = process.memory_info().rss
    grown = 0
    lines = 0
    cpu = time.process_time()
    start = time.perf_counter()
    async for chunk in export.stream(
        app_state, filters, timeline.columns_of(tuple(timeline.FIELDS))
    ):
        lines += chunk.count("\r\n")
        if sample_rss:
            grown = max(grown, process.memory_info().rss - base)
    return lines - 1, time.perf_counter() - start, time.process_time() - cpu, grown


def measure_export(target: Target, runs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as data_dir:
        app = create_app(Settings(data_dir=Path(data_dir), database_url=target.url), target.engine)
        with make_session_factory(target.engine)() as session:
            filters = timeline.make_filters(session, DEVICE_ID)

        async def runs_of_export() -> dict[str, Any]:
            await _export_once(app.state, filters, sample_rss=False)  # warm-up
            rates, cpu_rates, rss = [], [], []
            rows = 0
            for _ in range(runs):
                rows, seconds, cpu, grown = await _export_once(app.state, filters, sample_rss=True)
                rates.append(rows / seconds)
                cpu_rates.append(rows / cpu)
                rss.append(grown)
            tracemalloc.start()
            await _export_once(app.state, filters, sample_rss=False)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            return {
                "rows": rows,
                "median_rows_per_s": round(statistics.median(rates)),
                "min_rows_per_s": round(min(rates)),
                "median_rows_per_cpu_s": round(statistics.median(cpu_rates)),
                "peak_rss_growth_mb": round(max(rss) / 2**20, 1),
                "tracemalloc_peak_mb": round(peak / 2**20, 1),
            }

        return asyncio.run(runs_of_export())


def _count_rows(target: Target) -> int:
    with target.engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(Event.__table__)) or 0


def _print_table(results: list[dict[str, Any]]) -> None:
    names = list(results[0]["queries"])
    print("| query | " + " | ".join(r["engine"] for r in results) + " |")
    print("|---|" + "---|" * len(results))
    for name in names:
        cells = []
        for result in results:
            timing = result["queries"][name]
            cells.append(f"{timing['median_ms']} ms ({timing['min_ms']}-{timing['max_ms']})")
        print(f"| {name} (median, min-max) | " + " | ".join(cells) + " |")
    for key in (
        "rows",
        "median_rows_per_s",
        "min_rows_per_s",
        "median_rows_per_cpu_s",
        "peak_rss_growth_mb",
        "tracemalloc_peak_mb",
    ):
        print(
            f"| export, 7 days: {key} | "
            + " | ".join(str(r["export"][key]) for r in results)
            + " |"
        )
    for key in ("events", "insert_rows_per_s", "database_size"):
        print(f"| load: {key} | " + " | ".join(str(r["load"][key]) for r in results) + " |")
    for key in ("load_average_before", "load_average_after"):
        print(f"| machine: {key} | " + " | ".join(str(r[key]) for r in results) + " |")


def _load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    args = parser.parse_args()
    engines = args.engines.split(",")

    generator = Generator(DEVICE_ID, args.events, args.days)
    with tempfile.TemporaryDirectory() as folder, ExitStack() as stack:
        targets = []
        if "sqlite" in engines:
            targets.append(stack.enter_context(sqlite_target(Path(folder))))
        if "postgresql" in engines:
            targets.append(stack.enter_context(postgresql_target()))
        print(f"generating and loading {args.events:,} events over {args.days} days")
        load(targets, generator)
        results = []
        for target in targets:
            print(f"measuring {target.engine_name}")
            results.append(
                {
                    "engine": target.engine_name,
                    "load_average_before": _load_average(),
                    "load": {
                        "events": _count_rows(target),
                        "insert_rows_per_s": round(args.events / target.insert_seconds),
                        "database_size": target.sizes.get("database"),
                    },
                    "queries": measure_queries(target, generator, args.runs),
                    "export": measure_export(target, args.runs),
                    "load_average_after": _load_average(),
                }
            )
    _print_table(results)
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
