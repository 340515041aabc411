"""Benchmark: the Sigma matcher over the shared EVTX samples, against parsing alone.

Every shared EVTX file (evtx_attack_samples and evtx_to_mitre_attack, about 7,500 records)
is taken `--rounds` times, 10 by default, so that a run covers 75,000 records:

- parse:  the `evtx` library's records_json() over every file, each record's JSON decoded
          (the same baseline as bench/evtx_import.py), alternating with match;
- match:  `Detector.match` over the same records as event rows (read and normalized once
          beforehand, not timed), in batches of 5,000 as the importer stores them. A fresh
          detector each repeat, so building its index buckets is timed too;
- view:   building the rules' view of each event alone (part of match).

Rule sets: every shared Windows rule (sigma/rules/windows), and the same rules 10 times
over under new ids (`--scale 10`). Each scale runs in its own process so that its peak
memory (max RSS) is its own; "rules memory" is the RSS growth from loading the rules.

    python -m bench.detection --rounds 10 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import uuid
from typing import Any

import yaml
from evtx import PyEvtxParser
from tests.shared import shared_data

from hostwatch.detection.engine import Detector
from hostwatch.detection.rules import RuleLoader
from hostwatch.detection.view import sigma_view
from hostwatch.ingest.evtx import EvtxReader, find_sources
from hostwatch.ingest.normalize import normalize
from hostwatch.ingest.windows_values import RecordError

BATCH = 5_000


def _sources() -> list[Any]:
    folders = [shared_data("evtx_attack_samples"), shared_data("evtx_to_mitre_attack")]
    sources, problems = find_sources(folders)
    assert not problems, problems
    return sources


def parse_only(rounds: int) -> tuple[int, float, float]:
    """Records parsed, wall seconds, CPU seconds of this process."""
    paths = [str(source.path) for source in _sources()]
    records = 0
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(rounds):
        for path in paths:
            for record in PyEvtxParser(path).records_json():
                json.loads(record["data"])
                records += 1
    return records, time.perf_counter() - wall, time.process_time() - cpu


def event_rows() -> list[dict[str, Any]]:
    rows = []
    for source in _sources():
        for record in EvtxReader(source):
            try:
                rows.append(normalize(record.event, record.written).row)
            except RecordError:
                continue
    return rows


def load(scale: int) -> RuleLoader:
    """Every shared Windows rule, `scale` times, copies under ids derived from the original."""
    files = sorted(shared_data("sigma", "rules", "windows").rglob("*.yml"))
    loader = RuleLoader()
    for file in files:
        text = file.read_text(encoding="utf-8")
        loader.load_text(str(file), text)
        if scale > 1:
            document = yaml.safe_load(text)
            for copy in range(1, scale):
                document["id"] = str(uuid.uuid5(uuid.UUID(str(document["id"])), str(copy)))
                loader.load_text(f"{file}#{copy}", yaml.safe_dump(document))
    return loader


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one_scale(scale: int, rounds: int, repeat: int) -> dict[str, Any]:
    rows = event_rows() * rounds
    before_rules = _rss_mib()
    loader = load(scale)
    after_rules = _rss_mib()

    # Parse and match alternate, so that both see the same load on a shared machine; the
    # ratio is taken per pair, then the median.
    parse_wall, parse_cpu, match_wall, match_cpu, view_cpu = [], [], [], [], []
    matches = 0
    for _ in range(repeat):
        _, wall, cpu = parse_only(rounds)
        parse_wall.append(wall)
        parse_cpu.append(cpu)
        detector = Detector(loader.rules)
        wall, cpu = time.perf_counter(), time.process_time()
        found = 0
        for start in range(0, len(rows), BATCH):
            found += len(detector.match(rows[start : start + BATCH]))
        match_wall.append(time.perf_counter() - wall)
        match_cpu.append(time.process_time() - cpu)
        matches = found
        cpu = time.process_time()
        for row in rows:
            sigma_view(row)
        view_cpu.append(time.process_time() - cpu)
    return {
        "scale": scale,
        "events": len(rows),
        "rules_loaded": loader.report.loaded,
        "rules_rejected": len(loader.report.rejected),
        "rule_versions": detector.versions,
        "load_seconds": loader.report.seconds,
        "parse_wall": statistics.median(parse_wall),
        "parse_cpu": statistics.median(parse_cpu),
        "match_wall": statistics.median(match_wall),
        "match_cpu": statistics.median(match_cpu),
        "ratio_wall": statistics.median(m / p for m, p in zip(match_wall, parse_wall, strict=True)),
        "ratio_cpu": statistics.median(m / p for m, p in zip(match_cpu, parse_cpu, strict=True)),
        "view_ratio_cpu": statistics.median(
            v / p for v, p in zip(view_cpu, parse_cpu, strict=True)
        ),
        "matches": matches,
        "rules_rss_mib": after_rules - before_rules,
        "peak_rss_mib": _rss_mib(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(one_scale(args.one, args.rounds, args.repeat)))
        return

    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for scale in args.scales:
        command = [sys.executable, "-m", "bench.detection", "--one", str(scale)]
        command += ["--rounds", str(args.rounds), "--repeat", str(args.repeat)]
        r = json.loads(subprocess.run(command, check=True, capture_output=True).stdout)
        events = r["events"]
        print(
            f"rules x{scale}: {r['rules_loaded']} loaded ({r['rule_versions']} versions), "
            f"{r['rules_rejected']} rejected, load {r['load_seconds']:.1f} s\n"
            f"  parse {events} records: median {r['parse_wall']:.2f} s wall, "
            f"{r['parse_cpu']:.2f} s CPU ({events / r['parse_cpu']:,.0f} records/s)\n"
            f"  match: median {r['match_wall']:.2f} s wall, {r['match_cpu']:.2f} s CPU "
            f"({events / r['match_cpu']:,.0f} events/s); ratio to parse "
            f"{r['ratio_cpu']:.2f}x CPU, {r['ratio_wall']:.2f}x wall "
            f"(the view alone {r['view_ratio_cpu']:.2f}x CPU)\n"
            f"  {r['matches']} matches; rules memory {r['rules_rss_mib']:.0f} MiB, "
            f"peak RSS {r['peak_rss_mib']:.0f} MiB"
        )
        print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
