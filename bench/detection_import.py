"""Benchmark: EVTX import with every shared Windows rule enabled, against parsing alone.

Every shared EVTX file (evtx_attack_samples and evtx_to_mitre_attack, about 7,500 records)
is read `--rounds` times, 10 by default, so that a run covers 75,000 records, on one core
(the importer's worker processes off):

- parse:     the `evtx` library's records_json() with each record's JSON decoded (the
             baseline of bench/evtx_import.py);
- import:    `EvtxImporter.run` with no rule stored: normalize, attribute, store;
- detect:    the same with every shared Windows rule stored and enabled, so that each
             batch also runs the matcher, raises alerts and incidents and sets risk.

Each round imports into a fresh database copied from a migrated template (the rules are
imported into the template once), so that every round stores its records again. The
process's detector is built for each fresh database before the clock starts (a server
builds it once and keeps it); that build and the rule import are reported as load times.

Rule sets: every shared Windows rule, then the same rules `--scales 10` times over under
new ids. Each scale runs in its own process, so that its peak memory is its own.

    python -m bench.detection_import --rounds 10 --repeat 3 [--engine postgresql]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import yaml
from tests.shared import shared_data

from bench.evtx_import import PG_URL, _Databases, _files, parse_only
from hostwatch.db.engine import make_engine, make_session_factory, transaction
from hostwatch.detection import catalog
from hostwatch.detection.cache import CACHE
from hostwatch.ingest.importer import EvtxImporter


def rule_texts(scale: int) -> list[tuple[str, str]]:
    """Every shared Windows rule file, `scale` times, the copies under ids derived from it."""
    texts = []
    for file in sorted(shared_data("sigma", "rules", "windows").rglob("*.yml")):
        text = file.read_text(encoding="utf-8")
        texts.append((str(file), text))
        if scale > 1:
            document = yaml.safe_load(text)
            for copy in range(1, scale):
                document["id"] = str(uuid.uuid5(uuid.UUID(str(document["id"])), str(copy)))
                texts.append((f"{file}#{copy}", yaml.safe_dump(document)))
    return texts


def _url(databases: _Databases) -> str:
    if databases.engine == "sqlite":
        return f"sqlite:///{databases.template}"
    return PG_URL.format(name=databases.template)


def _import_rounds(
    files: list[Path], rounds: int, databases: _Databases
) -> tuple[float, float, int, int]:
    """Wall seconds, detector build seconds, records stored and alerts raised, over rounds."""
    seconds = build = 0.0
    stored = alerts = 0
    for _ in range(rounds):
        engine = make_engine(databases.fresh())
        sessions = make_session_factory(engine)
        started = time.perf_counter()
        with sessions() as session:
            CACHE.detector(session)
        build += time.perf_counter() - started
        importer = EvtxImporter(sessions, workers=0)
        started = time.perf_counter()
        summary = importer.run(files)
        seconds += time.perf_counter() - started
        # The copy is not used again: its detector goes (compiled rules stay, by text).
        CACHE.forget(str(engine.url))
        engine.dispose()
        assert summary.status == "complete", summary.to_dict()
        stored += summary.stored
        alerts += summary.alerts_raised
    return seconds, build, stored, alerts


def one_scale(scale: int, rounds: int, repeat: int, engine: str) -> dict[str, Any]:
    files = _files()
    texts = rule_texts(scale)
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("plain", "ruled"):
            (Path(tmp) / name).mkdir()
        plain = _Databases(engine, Path(tmp) / "plain")
        ruled = _Databases(engine, Path(tmp) / "ruled")
        try:
            made = make_engine(_url(ruled))
            started = time.perf_counter()
            with transaction(make_session_factory(made)) as session:
                result = catalog.import_texts(session, texts)
            rule_import = time.perf_counter() - started
            made.dispose()

            parse, bare, full, builds = [], [], [], []
            records = stored = alerts = 0
            for _ in range(repeat):
                records, seconds = parse_only(files, rounds, json.loads)
                parse.append(seconds)
                bare.append(_import_rounds(files, rounds, plain)[0])
                seconds, build, stored, alerts = _import_rounds(files, rounds, ruled)
                full.append(seconds)
                builds.append(build / rounds)
        finally:
            plain.drop_all()
            ruled.drop_all()
    return {
        "scale": scale,
        "engine": engine,
        "records": records,
        "stored": stored,
        "rules_loaded": result.report.loaded,
        "rules_rejected": len(result.report.rejected),
        "rule_import_seconds": rule_import,
        "detector_build_seconds": statistics.median(builds),
        "parse": statistics.median(parse),
        "import": statistics.median(bare),
        "detect": statistics.median(full),
        "ratio_import": statistics.median(b / p for b, p in zip(bare, parse, strict=True)),
        "ratio_detect": statistics.median(f / p for f, p in zip(full, parse, strict=True)),
        "alerts_per_round": alerts // rounds,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--engine", default="sqlite", choices=["sqlite", "postgresql"])
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(one_scale(args.one, args.rounds, args.repeat, args.engine)))
        return

    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        "| rules | engine | rule import s | detector build s | parse s | import s (x parse) "
        "| import+detect s (x parse) | events/s | alerts | peak RSS |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for scale in args.scales:
        command = [sys.executable, "-m", "bench.detection_import", "--one", str(scale)]
        command += ["--rounds", str(args.rounds), "--repeat", str(args.repeat)]
        command += ["--engine", args.engine]
        r = json.loads(subprocess.run(command, check=True, capture_output=True).stdout)
        print(
            f"| {r['rules_loaded']:,} (x{scale}, {r['rules_rejected']} rejected) | {r['engine']} "
            f"| {r['rule_import_seconds']:.1f} | {r['detector_build_seconds']:.1f} "
            f"| {r['parse']:.2f} | {r['import']:.2f} ({r['ratio_import']:.2f}x) "
            f"| {r['detect']:.2f} ({r['ratio_detect']:.2f}x) "
            f"| {r['records'] / r['detect']:,.0f} | {r['alerts_per_round']} "
            f"| {r['peak_rss_mib']:.0f} MiB |",
            flush=True,
        )
        print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)


if __name__ == "__main__":
    main()
