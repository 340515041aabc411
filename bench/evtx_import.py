"""Benchmark: EVTX import against parsing alone, on SQLite and PostgreSQL.

Every shared EVTX file (evtx_attack_samples and evtx_to_mitre_attack, about 7,500 records)
is read `--rounds` times, 10 by default, so that a run covers 75,000 records:

- parse:  the `evtx` library's records_json() over every file, each record's JSON decoded
          with the standard library (the least any importer must do to see the fields);
- orjson: the same, decoded with orjson (the importer encodes with orjson; shown so that
          the ratio can also be read against the faster decoder);
- lib:    records_json() alone, JSON left undecoded (shown for reference);
- import: `EvtxImporter.run` over the same files: normalize, attribute to devices, store.
          Each round imports into a fresh database made from a migrated template, so
          every round stores its records again (none are skipped as duplicates of an
          earlier round). Database creation is not timed; starting the worker processes
          is.

The ratio is import time over parse time; the issue's target is at most 2.5. Beside wall
time, CPU seconds: the importer's own process, its worker processes (as they report it;
0 for an importer without workers) and, on PostgreSQL, the server process of the import's
connection. Peak memory is the largest resident set of the benchmark process and of any
worker.

    python -m bench.evtx_import --rounds 10 --repeat 3

To compare with other code, put its src first: PYTHONPATH=/other/src:. python -m ...
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import psycopg
from evtx import PyEvtxParser
from sqlalchemy import text
from tests.shared import shared_data

from hostwatch.db import migrate
from hostwatch.db.engine import make_engine, make_session_factory
from hostwatch.ingest.evtx import find_sources
from hostwatch.ingest.importer import EvtxImporter

PG_ADMIN = "host=127.0.0.1 port=5432 dbname=test user=postgres"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def _files() -> list[Path]:
    folders = [shared_data("evtx_attack_samples"), shared_data("evtx_to_mitre_attack")]
    sources, problems = find_sources(folders)
    assert not problems, problems
    return [source.path for source in sources]


def parse_only(files: list[Path], rounds: int, decode: Any) -> tuple[int, float]:
    records = 0
    started = time.perf_counter()
    for _ in range(rounds):
        for path in files:
            for record in PyEvtxParser(str(path)).records_json():
                if decode is not None:
                    decode(record["data"])
                records += 1
    return records, time.perf_counter() - started


class _Databases:
    """Fresh, migrated databases for one engine, copied from a template made once."""

    def __init__(self, engine: str, workdir: Path) -> None:
        self.engine = engine
        self.workdir = workdir
        self.made: list[str] = []
        if engine == "sqlite":
            self.template = str(workdir / "template.db")
            url = f"sqlite:///{self.template}"
        else:
            self.template = f"hw_bench_tmpl_{uuid.uuid4().hex[:8]}"
            _pg(f'CREATE DATABASE "{self.template}"')
            self.made.append(self.template)
            url = PG_URL.format(name=self.template)
        made = make_engine(url)
        migrate.upgrade(made)
        made.dispose()

    def fresh(self) -> str:
        if self.engine == "sqlite":
            path = self.workdir / f"{uuid.uuid4().hex[:8]}.db"
            shutil.copyfile(self.template, path)
            return f"sqlite:///{path}"
        name = f"hw_bench_{uuid.uuid4().hex[:8]}"
        _pg(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        self.made.append(name)
        return PG_URL.format(name=name)

    def drop_all(self) -> None:
        for name in reversed(self.made):
            _pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _pg(sql: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(sql)


@dataclass
class _Import:
    records: int = 0
    stored: int = 0
    seconds: float = 0.0
    # CPU seconds: this process, the importer's workers, the database server's process.
    cpu: float = 0.0
    workers_cpu: float = 0.0
    server_cpu: float = 0.0


def full_import(
    files: list[Path], rounds: int, databases: _Databases, workers: int | None
) -> _Import:
    measured = _Import()
    # Older importers read in this process only and take no `workers`.
    options = {} if workers is None else {"workers": workers}
    for _ in range(rounds):
        engine = make_engine(databases.fresh())
        importer = EvtxImporter(make_session_factory(engine), **options)
        started, cpu = time.perf_counter(), time.process_time()
        summary = importer.run(files)
        measured.seconds += time.perf_counter() - started
        measured.cpu += time.process_time() - cpu
        measured.workers_cpu += getattr(importer, "worker_cpu_seconds", 0.0)
        if databases.engine == "postgresql":
            # The import wrote through one pooled connection, whose server process was
            # started for it: its CPU time is the import's.
            with engine.connect() as connection:
                measured.server_cpu += _process_cpu(
                    connection.scalar(text("SELECT pg_backend_pid()"))
                )
        engine.dispose()
        assert summary.status == "complete", summary.to_dict()
        measured.records += summary.records
        measured.stored += summary.stored
    return measured


def _process_cpu(pid: Any) -> float:
    with open(f"/proc/{int(pid)}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--json", action="store_true", help="print the medians as JSON too")
    parser.add_argument(
        "--workers", type=int, default=None, help="worker processes (default: the importer's)"
    )
    args = parser.parse_args()

    files = _files()
    engines = args.engines.split(",")
    load_before = os.getloadavg()[0]
    decoders = {"lib": None, "parse": json.loads, "orjson": orjson.loads}
    parsed: dict[str, list[float]] = {name: [] for name in decoders}
    imports: dict[str, list[_Import]] = {engine: [] for engine in engines}
    records = 0
    with tempfile.TemporaryDirectory() as tmp:
        databases = {engine: _Databases(engine, Path(tmp)) for engine in engines}
        try:
            # Every kind of measurement once per repetition, so all see the same load.
            for _ in range(args.repeat):
                for name, decode in decoders.items():
                    records, seconds = parse_only(files, args.rounds, decode)
                    parsed[name].append(seconds)
                for engine in engines:
                    imports[engine].append(
                        full_import(files, args.rounds, databases[engine], args.workers)
                    )
        finally:
            for made in databases.values():
                made.drop_all()

    parse_seconds = _median(parsed["parse"])
    orjson_seconds = _median(parsed["orjson"])
    print(
        f"{len(files)} files x {args.rounds} rounds = {records:,} records, "
        f"median of {args.repeat}; load average {load_before:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end ({os.cpu_count()} CPUs)"
    )
    print("| measurement | seconds | records/s | time / parse time | time / orjson parse time |")
    print("|---|---|---|---|---|")
    labels = {
        "lib": "parse only: records_json()",
        "parse": "parse only: records_json() + json.loads",
        "orjson": "parse only: records_json() + orjson.loads",
    }
    results: dict[str, Any] = {"records": records, "load": [load_before, os.getloadavg()[0]]}
    for name, label in labels.items():
        seconds = _median(parsed[name])
        results[name] = seconds
        print(
            f"| {label} | {seconds:.2f} | {records / seconds:,.0f} | "
            f"{seconds / parse_seconds:.2f} | {seconds / orjson_seconds:.2f} |"
        )
    for engine in engines:
        runs = imports[engine]
        seconds = _median([run.seconds for run in runs])
        print(
            f"| full import, {engine} ({runs[0].stored:,} stored) | {seconds:.2f} | "
            f"{records / seconds:,.0f} | {seconds / parse_seconds:.2f} | "
            f"{seconds / orjson_seconds:.2f} |"
        )
        results[engine] = {
            "seconds": seconds,
            "cpu": _median([run.cpu for run in runs]),
            "workers_cpu": _median([run.workers_cpu for run in runs]),
            "server_cpu": _median([run.server_cpu for run in runs]),
        }
    print()
    print("| import | CPU s: importer | workers | database server | total |")
    print("|---|---|---|---|---|")
    for engine in engines:
        cpu = results[engine]
        total = cpu["cpu"] + cpu["workers_cpu"] + cpu["server_cpu"]
        print(
            f"| {engine} | {cpu['cpu']:.2f} | {cpu['workers_cpu']:.2f} | "
            f"{cpu['server_cpu']:.2f} | {total:.2f} |"
        )
    main_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    worker_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    results["peak_mib"] = [main_peak, worker_peak]
    print(f"\npeak resident memory: {main_peak:.0f} MiB here, {worker_peak:.0f} MiB in a worker")
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
