"""Benchmark: importing each shared vulnerability feed, and matching a 3,000-package inventory.

Import: each feed into a fresh database (first import), then the same files again
(incremental: every record unchanged). Matching: after all feeds are in, a Debian 11
device with 2,000 dpkg packages (source packages named by the tracker's bullseye lines,
at, below or above their fixed versions) and 1,000 pip packages (PyPI advisory packages
at listed versions), and a Windows 10 device with 300 programs (the desktop products NVD
names, at old and new versions) and 2,700 pip packages. "match" is matching alone (the
candidate reads included), "cold" with the process's caches emptied first (parsed
versions, CPE names, prepared NVD configurations), as a fresh process's first device,
"warm" the same match again right after; "refresh" is the whole device refresh with the findings
written, commit included, the second time (findings already stored; it includes the
recommendations and exposure refresh); "recommendations" is that refresh alone.

    python -m bench.vulns --repeat 3

`--rematch N` instead measures re-matching after a feed change: all feeds imported, N
devices (each with 30 pip packages drawn from the PyPI advisories' packages and 300
packages no advisory names) refreshed once; then 1, 10 and 100 OSV advisories change
(a new `modified` time and text) and are imported again, and the devices they concern are
re-matched, against re-matching every device.

    python -m bench.vulns --rematch 200 --repeat 2
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from bench.pgdb import PG_ADMIN, pg_database
from hostwatch.db import migrate
from hostwatch.db.engine import make_engine, make_session_factory, transaction
from hostwatch.devices.models import Device, Software
from hostwatch.vulns import findings, matching, recommendations
from hostwatch.vulns.importer import FeedImporter
from hostwatch.vulns.packages import DeviceRelease

SHARED = Path(os.environ.get("HOSTWATCH_SHARED", Path(__file__).resolve().parents[2] / "shared"))
FEEDS = ("osv_pypi", "nvd_cve", "cisa_kev", "debian_security_tracker")
PROGRAMS = [
    ("Mozilla Firefox (x64 en-US)", "Mozilla", ["3.0.10", "52.0", "115.0", "121.0", "131.0"]),
    ("Mozilla Thunderbird (x64 en-US)", "Mozilla", ["3.0", "91.0", "115.6.0", "128.0"]),
    ("Google Chrome", "Google LLC", ["5.0.375.69", "49.0.2623.112", "120.0.6099.109"]),
    ("7-Zip 9.20 (x64)", "Igor Pavlov", ["9.20", "16.02", "23.01"]),
    ("VLC media player", "VideoLAN", ["1.1.4", "2.2.8", "3.0.20"]),
    ("Java 8 Update 25", "Oracle Corporation", ["8.0.250"]),
    ("Adobe Acrobat Reader DC", "Adobe Inc.", ["15.010.20056", "23.008.20470"]),
    ("Microsoft Office Professional Plus 2016", "Microsoft Corporation", ["16.0.4266.1001"]),
]


def _import(engine: Engine, paths: list[Path]) -> tuple[float, int]:
    started = time.perf_counter()
    summary = FeedImporter(make_session_factory(engine)).run(paths)
    return time.perf_counter() - started, summary.records


def _debian_packages(rng: random.Random, count: int) -> list[dict[str, Any]]:
    text = (SHARED / "data/debian_security_tracker/DSA/list").read_text(encoding="utf-8")
    fixed = dict(re.findall(r"^\s+\[bullseye\] - (\S+) ([^<\s]\S*)", text, re.MULTILINE))
    names = sorted(fixed)
    rows = []
    for i in range(count):
        source = names[i % len(names)]
        version = fixed[source]
        version = [version, version.replace("deb11u", "deb11u0~"), version + "+b1"][i % 3]
        rows.append(
            {
                "source": "dpkg",
                "name": f"{source}-bin{i}",
                "version": version,
                "source_package": source,
                "arch": "amd64",
            }
        )
    return rows


def _pip_packages(rng: random.Random, count: int) -> list[dict[str, Any]]:
    import yaml

    packages: list[tuple[str, list[str]]] = []
    for folder in sorted((SHARED / "data/osv_pypi/vulns").iterdir()):
        first = next(iter(sorted(folder.glob("*.yaml"))))
        # The base loader builds only strings, lists and mappings.
        doc = yaml.load(first.read_text(encoding="utf-8"), Loader=yaml.CBaseLoader)  # noqa: S506
        listed = doc["affected"][0].get("versions") or ["0.0.1"]
        packages.append((folder.name, listed))
    rows = []
    for i in range(count):
        name, listed = packages[i % len(packages)]
        version = rng.choice(listed) if i % 2 else "999.0"
        rows.append(
            {
                "source": "pip",
                "name": f"{name}" if i < len(packages) else f"{name}-{i}",
                "version": version,
            }
        )
    return rows


def _programs(count: int) -> list[dict[str, Any]]:
    rows = []
    for i in range(count):
        name, vendor, choices = PROGRAMS[i % len(PROGRAMS)]
        rows.append(
            {
                "source": "windows",
                "name": f"{name} #{i}" if i >= len(PROGRAMS) else name,
                "version": choices[i % len(choices)],
                "vendor": vendor,
            }
        )
    # Only the first of each name keeps its exact display name; copies get a suffix the table
    # does not know, as distinct programs would.
    return rows


def _forget_caches() -> None:
    """What a process remembers between matches: parsed versions and CPE names, and (where
    the matcher keeps them) prepared NVD configurations. A "cold" match starts without."""
    from hostwatch.vulns import cpe, versions

    versions.parse.cache_clear()
    versions.vendor_key.cache_clear()
    cpe.split_cpe.cache_clear()
    prepared = getattr(matching, "_PREPARED", None)
    if prepared is not None:
        prepared.clear()


def _device(engine: Engine, release: DeviceRelease, software: list[dict[str, Any]]) -> str:
    with transaction(make_session_factory(engine)) as session:
        device = Device(
            hostname="bench",
            os_family=release.os_family,
            os_name=release.os_name,
            os_version=release.os_version,
        )
        session.add(device)
        session.flush()
        session.add_all(Software(device_id=device.id, **row) for row in software)
        return device.id


def _fleet(engine: Engine, rng: random.Random, devices: int) -> tuple[list[str], list[str]]:
    """`devices` Debian 11 devices with 30 advisory packages and 300 others each."""
    names = sorted(p.name for p in (SHARED / "data/osv_pypi/vulns").iterdir())
    release = DeviceRelease("linux", "Debian GNU/Linux 11 (bullseye)", "11")
    ids = []
    for _ in range(devices):
        pip = [{"source": "pip", "name": n, "version": "0.0.1"} for n in rng.sample(names, 30)]
        other = [
            {"source": "dpkg", "name": f"bench-lib{i}", "version": "1.0-1", "arch": "amd64"}
            for i in range(300)
        ]
        ids.append(_device(engine, release, pip + other))
    return ids, names


def _changed_records(rng: random.Random, folder: Path, count: int, round_number: int) -> Path:
    """`count` shared PyPI advisories (one per package), with new text and modified time."""
    import json

    import yaml

    out = Path(tempfile.mkdtemp(dir=folder, prefix=f"changed-{count}-"))
    packages = sorted((SHARED / "data/osv_pypi/vulns").iterdir())
    for package in rng.sample(packages, count):
        first = sorted(package.glob("*.yaml"))[0]
        doc = yaml.load(first.read_text(encoding="utf-8"), Loader=yaml.CBaseLoader)  # noqa: S506
        doc["modified"] = f"2030-01-{round_number + 1:02d}T00:00:00Z"
        doc["details"] = f"{doc.get('details', '')} (changed {round_number})"
        (out / f"{doc['id']}.json").write_text(json.dumps(doc), encoding="utf-8")
    return out


def rematch_bench(args: argparse.Namespace) -> None:
    from hostwatch.vulns.rematch import rematch

    times: dict[tuple[str, str], list[float]] = {}
    reached: dict[tuple[str, int], list[int]] = {}
    with tempfile.TemporaryDirectory(prefix="hw-bench-rematch-") as tmp:
        for round_number in range(args.repeat):
            for name in args.engines.split(","):
                rng = random.Random(7 + round_number)
                pg_name = f"hw_bench_rematch_{os.getpid()}"
                if name == "sqlite":
                    url = f"sqlite:///{Path(tmp) / f'r{round_number}.db'}"
                else:
                    pg_database(args.pg_admin, pg_name, create=True)
                    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{pg_name}"
                engine = make_engine(url)
                try:
                    migrate.upgrade(engine)
                    _import(engine, [SHARED / "data" / feed for feed in FEEDS])
                    sessions = make_session_factory(engine)
                    ids, _ = _fleet(engine, rng, args.rematch)
                    started = time.perf_counter()
                    for device_id in ids:
                        with transaction(sessions) as session:
                            findings.refresh_device(session, device_id)
                    times.setdefault((name, "re-match every device"), []).append(
                        time.perf_counter() - started
                    )
                    for count in (1, 10, 100):
                        folder = _changed_records(rng, Path(tmp), count, round_number)
                        summary = FeedImporter(sessions).run([folder])
                        started = time.perf_counter()
                        result = rematch(sessions, summary.written)
                        times.setdefault((name, f"re-match after {count} changed"), []).append(
                            time.perf_counter() - started
                        )
                        reached.setdefault((name, count), []).append(result.devices)
                finally:
                    engine.dispose()
                    if name == "postgresql":
                        pg_database(args.pg_admin, pg_name, create=False)
    print(f"devices: {args.rematch}; devices re-matched (per run): {reached}")
    print(f"load average: {os.getloadavg()}")
    print("| engine | step | runs | median s | min s | max s |")
    print("|---|---|---|---|---|---|")
    for (engine_name, step), values in times.items():
        print(
            f"| {engine_name} | {step} | {len(values)} | {statistics.median(values):.3f} "
            f"| {min(values):.3f} | {max(values):.3f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pg-admin", default=PG_ADMIN)
    parser.add_argument("--rematch", type=int, default=0, metavar="DEVICES")
    args = parser.parse_args()
    if args.rematch:
        rematch_bench(args)
        return
    engines = args.engines.split(",")
    rng = random.Random(3)
    debian_device = _debian_packages(rng, 2000) + _pip_packages(rng, 1000)
    windows_device = _programs(300) + _pip_packages(rng, 2700)
    times: dict[tuple[str, str], list[float]] = {}
    counts: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="hw-bench-vulns-") as tmp:
        for round_number in range(args.repeat):
            for name in engines:
                pg_name = f"hw_bench_vulns_{os.getpid()}"
                if name == "sqlite":
                    url = f"sqlite:///{Path(tmp) / f'r{round_number}.db'}"
                else:
                    pg_database(args.pg_admin, pg_name, create=True)
                    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{pg_name}"
                engine = make_engine(url)
                try:
                    migrate.upgrade(engine)
                    for feed in FEEDS:
                        seconds, records = _import(engine, [SHARED / "data" / feed])
                        times.setdefault((name, f"import {feed}"), []).append(seconds)
                        counts[feed] = records
                        seconds, _ = _import(engine, [SHARED / "data" / feed])
                        times.setdefault((name, f"re-import {feed}"), []).append(seconds)
                    for label, release, software in (
                        (
                            "debian 11",
                            DeviceRelease("linux", "Debian GNU/Linux 11 (bullseye)", "11"),
                            debian_device,
                        ),
                        (
                            "windows 10",
                            DeviceRelease("windows", "Microsoft Windows 10 Pro", "10.0.19045.3803"),
                            windows_device,
                        ),
                    ):
                        device_id = _device(engine, release, software)
                        sessions = make_session_factory(engine)
                        with sessions() as session:
                            items = findings.installed_items(session, device_id)
                            for when in ("cold", "warm"):
                                if when == "cold":
                                    _forget_caches()
                                started = time.perf_counter()
                                matches = matching.combine(
                                    matching.match_items(session, release, items)
                                )
                                times.setdefault(
                                    (name, f"match {label} ({len(items)}), {when}"), []
                                ).append(time.perf_counter() - started)
                        counts[label] = (
                            sum(1 for f in matches.values() if f["status"] == "affected"),
                            sum(1 for f in matches.values() if f["status"] == "unknown"),
                        )
                        with transaction(sessions) as session:
                            findings.refresh_device(session, device_id)
                        started = time.perf_counter()
                        with transaction(sessions) as session:
                            findings.refresh_device(session, device_id)
                        times.setdefault((name, f"refresh {label}"), []).append(
                            time.perf_counter() - started
                        )
                        started = time.perf_counter()
                        with transaction(sessions) as session:
                            done = recommendations.refresh_device(session, device_id)
                        times.setdefault((name, f"recommendations {label}"), []).append(
                            time.perf_counter() - started
                        )
                        counts[f"{label} recommendations"] = (done.active, done.exposure.score)
                finally:
                    engine.dispose()
                    if name == "postgresql":
                        pg_database(args.pg_admin, pg_name, create=False)
    print(f"records: {counts}")
    print(f"load average: {os.getloadavg()}")
    print("| engine | step | runs | median s | min s | max s |")
    print("|---|---|---|---|---|---|")
    for (engine_name, step), values in times.items():
        print(
            f"| {engine_name} | {step} | {len(values)} | {statistics.median(values):.3f} "
            f"| {min(values):.3f} | {max(values):.3f} |"
        )


if __name__ == "__main__":
    main()
