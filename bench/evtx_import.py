"""Benchmark: EVTX import against parsing alone, on SQLite and PostgreSQL.

Every shared EVTX file (evtx_attack_samples and evtx_to_mitre_attack, about 7,500 records)
is read `--rounds` times, 10 by default, so that a run covers 75,000 records:

- parse:  the `evtx` library's records_json() over every file, each record's JSON decoded
          with the standard library (the least any importer must do to see the fields);
- lib:    records_json() alone, JSON left undecoded (shown for reference);
- import: `EvtxImporter.run` over the same files: normalize, attribute to devices, store.
          Each round imports into a fresh database made from a migrated template, so
          every round stores its records again (none are skipped as duplicates of an
          earlier round). Database creation is not timed.

The ratio is import time over parse time; the issue's target is at most 2.5.

    python -m bench.evtx_import --rounds 10 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from evtx import PyEvtxParser
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


def parse_only(files: list[Path], rounds: int, decode: bool) -> tuple[int, float]:
    records = 0
    started = time.perf_counter()
    for _ in range(rounds):
        for path in files:
            for record in PyEvtxParser(str(path)).records_json():
                if decode:
                    json.loads(record["data"])
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


def full_import(files: list[Path], rounds: int, databases: _Databases) -> tuple[int, int, float]:
    records = stored = 0
    elapsed = 0.0
    for _ in range(rounds):
        engine = make_engine(databases.fresh())
        importer = EvtxImporter(make_session_factory(engine))
        started = time.perf_counter()
        summary = importer.run(files)
        elapsed += time.perf_counter() - started
        engine.dispose()
        assert summary.status == "complete", summary.to_dict()
        records += summary.records
        stored += summary.stored
    return records, stored, elapsed


def _median(runs: list[tuple[int, float]]) -> tuple[int, float]:
    return runs[0][0], statistics.median(seconds for _, seconds in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--engines", default="sqlite,postgresql")
    args = parser.parse_args()

    files = _files()
    engines = args.engines.split(",")
    load_before = os.getloadavg()[0]
    measured: dict[str, list[tuple[int, float]]] = {"lib": [], "parse": []}
    measured.update({engine: [] for engine in engines})
    stored_counts: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        databases = {engine: _Databases(engine, Path(tmp)) for engine in engines}
        try:
            # Every kind of measurement once per repetition, so all see the same load.
            for _ in range(args.repeat):
                measured["lib"].append(parse_only(files, args.rounds, decode=False))
                measured["parse"].append(parse_only(files, args.rounds, decode=True))
                for engine in engines:
                    records, stored, seconds = full_import(files, args.rounds, databases[engine])
                    measured[engine].append((records, seconds))
                    stored_counts[engine] = stored
        finally:
            for made in databases.values():
                made.drop_all()

    records, parse_seconds = _median(measured["parse"])
    _, lib_seconds = _median(measured["lib"])
    rows = [
        ("parse only: records_json()", lib_seconds),
        ("parse only: records_json() + json.loads", parse_seconds),
    ]
    rows += [
        (f"full import, {engine} ({stored_counts[engine]:,} stored)", _median(measured[engine])[1])
        for engine in engines
    ]
    print(
        f"{len(files)} files x {args.rounds} rounds = {records:,} records, "
        f"median of {args.repeat}; load average {load_before:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end ({os.cpu_count()} CPUs)"
    )
    print("| measurement | seconds | records/s | time / parse time |")
    print("|---|---|---|---|")
    for label, seconds in rows:
        rate = records / seconds
        print(f"| {label} | {seconds:.2f} | {rate:,.0f} | {seconds / parse_seconds:.2f} |")


if __name__ == "__main__":
    main()
