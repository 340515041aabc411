"""Benchmark: what the EVTX reader's checks cost on top of parsing, on the shared samples.

- parse:  the `evtx` library's records_json() over every shared file, each record's JSON
          decoded (the least any importer must do; the baseline of bench/evtx_import.py);
- reader: `EvtxReader` over the same files: the file and chunk layout, checksums (the
          library's validate_checksums), the cut-record and computer-name checks, record
          accounting and RawRecord building. No normalizing, no database.

"reading checks" is (reader - parse) / parse, in multiples of parse time, as in the
breakdown of bench/RESULTS.md. The two are measured alternately, so both see the same load.

    python -m bench.evtx_reader --rounds 3 --repeat 9
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

from evtx import PyEvtxParser

from bench.evtx_import import _files
from hostwatch.ingest.evtx import EvtxReader, find_sources


def parse_only(files: list, rounds: int) -> tuple[int, float]:
    records = 0
    started = time.perf_counter()
    for _ in range(rounds):
        for path in files:
            for record in PyEvtxParser(str(path)).records_json():
                json.loads(record["data"])
                records += 1
    return records, time.perf_counter() - started


def reader_only(files: list, rounds: int) -> tuple[int, float]:
    sources, problems = find_sources(files)
    assert not problems, problems
    records = 0
    started = time.perf_counter()
    for _ in range(rounds):
        for source in sources:
            reader = EvtxReader(source)
            records += sum(1 for _ in reader)
            assert not reader.problems, reader.problems
    return records, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()

    files = _files()
    load_before = os.getloadavg()[0]
    parse_runs, reader_runs = [], []
    for _ in range(args.repeat):
        parse_runs.append(parse_only(files, args.rounds))
        reader_runs.append(reader_only(files, args.rounds))
    records = parse_runs[0][0]
    assert reader_runs[0][0] == records
    parse = statistics.median(seconds for _, seconds in parse_runs)
    reader = statistics.median(seconds for _, seconds in reader_runs)
    print(
        f"{len(files)} files x {args.rounds} rounds = {records:,} records, median of "
        f"{args.repeat}; load average {load_before:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end ({os.cpu_count()} CPUs)"
    )
    print(f"parse  {parse:.3f} s  {records / parse:,.0f} records/s")
    print(f"reader {reader:.3f} s  {records / reader:,.0f} records/s")
    print(f"reading checks {(reader - parse) / parse:.2f}x parse time")


if __name__ == "__main__":
    main()
