"""Benchmark: the Sigma matcher over the shared EVTX samples, against parsing alone.

Every shared EVTX file (evtx_attack_samples and evtx_to_mitre_attack, about 7,500 records)
is taken `--rounds` times, 10 by default, so that a run covers 75,000 records:

- parse:  the `evtx` library's records_json() over every file, each record's JSON decoded
          (the same baseline as bench/evtx_import.py);
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


def parse_only(rounds: int) -> tuple[int, float]:
    paths = [str(source.path) for source in _sources()]
    records = 0
    started = time.perf_counter()
    for _ in range(rounds):
        for path in paths:
            for record in PyEvtxParser(path).records_json():
                json.loads(record["data"])
                records += 1
    return records, time.perf_counter() - started


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

    match_times = []
    view_times = []
    matches = 0
    for _ in range(repeat):
        detector = Detector(loader.rules)
        started = time.perf_counter()
        found = 0
        for start in range(0, len(rows), BATCH):
            found += len(detector.match(rows[start : start + BATCH]))
        match_times.append(time.perf_counter() - started)
        matches = found
        started = time.perf_counter()
        for row in rows:
            sigma_view(row)
        view_times.append(time.perf_counter() - started)
    return {
        "scale": scale,
        "events": len(rows),
        "rules_loaded": loader.report.loaded,
        "rules_rejected": len(loader.report.rejected),
        "rule_versions": detector.versions,
        "load_seconds": loader.report.seconds,
        "match_seconds": statistics.median(match_times),
        "view_seconds": statistics.median(view_times),
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
    parse_times = []
    records = 0
    for _ in range(args.repeat):
        records, seconds = parse_only(args.rounds)
        parse_times.append(seconds)
    parse = statistics.median(parse_times)
    print(f"parse: {records} records, median {parse:.2f} s, {records / parse:,.0f} records/s")
    for scale in args.scales:
        command = [sys.executable, "-m", "bench.detection", "--one", str(scale)]
        command += ["--rounds", str(args.rounds), "--repeat", str(args.repeat)]
        result = json.loads(subprocess.run(command, check=True, capture_output=True).stdout)
        events, seconds = result["events"], result["match_seconds"]
        print(
            f"rules x{scale}: {result['rules_loaded']} loaded ({result['rule_versions']} "
            f"versions), {result['rules_rejected']} rejected, load {result['load_seconds']:.1f} s; "
            f"match {events} events median {seconds:.2f} s = {events / seconds:,.0f} events/s "
            f"= {seconds / parse:.2f}x parse (view alone {result['view_seconds'] / parse:.2f}x); "
            f"{result['matches']} matches; rules memory {result['rules_rss_mib']:.0f} MiB, "
            f"peak RSS {result['peak_rss_mib']:.0f} MiB"
        )
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
