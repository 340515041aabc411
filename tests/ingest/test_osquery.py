"""osquery results logs into devices, software, hotfixes and users, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from hostwatch.devices import registry
from hostwatch.devices.models import Device, Hotfix, Software
from hostwatch.ingest import osquery_tables as tables
from hostwatch.ingest.osquery import OsqueryImporter
from hostwatch.ingest.osquery_log import QueryMap, read_lines
from hostwatch.ingest.osquery_summary import OsquerySummary

DATA = Path(__file__).parent / "data" / "osquery"
WINDOWS = DATA / "windows10-22h2-snapshot.log"
WINDOWS_LATER = DATA / "windows10-22h2-differential.log"
DEBIAN = DATA / "debian11-batch.log"
UBUNTU = DATA / "ubuntu2204-events.log.gz"
ROCKY = DATA / "rocky9-snapshot.log"
DAMAGED = DATA / "damaged.log"
WINDOWS_UUID = "4c4c4544-0051-3510-8052-b7c04f4b4e32"


def _import(sessions: sessionmaker[Session], *paths: Path, **options: Any) -> OsquerySummary:
    return OsqueryImporter(sessions, **options).run(list(paths))


def _device(session: Session, hostname: str) -> Device:
    return session.scalars(select(Device).where(Device.hostname == hostname)).one()


def _software(session: Session, hostname: str, source: str | None = None) -> dict[str, Software]:
    query = select(Software).join(Device, Device.id == Software.device_id)
    query = query.where(Device.hostname == hostname)
    if source is not None:
        query = query.where(Software.source == source)
    return {f"{s.name} {s.version}": s for s in session.scalars(query)}


def _hotfixes(session: Session, hostname: str) -> dict[str, Hotfix]:
    device = _device(session, hostname)
    rows = session.scalars(select(Hotfix).where(Hotfix.device_id == device.id))
    return {h.hotfix_id: h for h in rows}


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_osquery_windows_snapshot_stores_programs_os_facts_hotfixes_and_users(
    sessions: sessionmaker[Session],
) -> None:
    summary = _import(sessions, WINDOWS)

    assert summary.status == "complete"
    assert (summary.results_applied, summary.software_added, summary.hotfixes_added) == (5, 16, 4)
    assert (summary.devices_created, summary.lines) == (1, 5)
    with sessions() as session:
        device = _device(session, "WS-FIN-014")
        assert (device.fqdn, device.domain, device.machine_id) == (
            "WS-FIN-014.corp.example",
            "corp.example",
            WINDOWS_UUID,
        )
        assert (device.os_family, device.os_name, device.os_version) == (
            "windows",
            "Microsoft Windows 10 Pro",
            "10.0.19045.3803",
        )
        assert (device.os_build, device.os_release, device.os_edition, device.os_arch) == (
            "10.0.19045.3803",
            "22H2",
            "Pro",
            "x86_64",
        )
        assert device.sources == ["osquery"]
        assert {t.name for t in device.tags} == {"source:osquery", "os:windows"}
        assert (device.first_seen, device.last_seen) == (
            _at("2023-12-14 08:00:00"),
            _at("2023-12-14 08:00:00"),
        )
        # The overview's inventory time, as the agent's upload sets it.
        assert device.inventory_collected_at == _at("2023-12-14 08:00:00")
        assert device.logged_on_users == [
            {
                "name": "j.doe",
                "terminal": "console",
                "host": None,
                "started": "2023-12-14T07:50:12.000000+00:00",
                "source": "osquery",
                "sid": "S-1-5-21-3623811015-3361044348-30300820-1013",
            }
        ]

        programs = _software(session, "WS-FIN-014", "windows")
        assert len(programs) == 12
        firefox = programs["Mozilla Firefox (x64 en-US) 115.0"]
        assert (firefox.vendor, firefox.install_path, firefox.arch, firefox.product_code) == (
            "Mozilla",
            "C:\\Program Files\\Mozilla Firefox",
            "",
            "cpe:2.3:a:mozilla:firefox:115.0:*:*:*:*:*:*:*",
        )
        seven_zip = programs["7-Zip 19.00 (x64) 19.00"]
        assert (seven_zip.vendor, seven_zip.product_code) == (
            "Igor Pavlov",
            "cpe:2.3:a:7-zip:7-zip:19.00:*:*:*:*:*:*:*",
        )
        chrome = programs["Google Chrome 120.0.6099.110"]
        assert chrome.product_code == "cpe:2.3:a:google:chrome:120.0.6099.110:*:*:*:*:*:*:*"
        assert (chrome.first_seen, chrome.last_seen) == (
            _at("2023-12-14 08:00:00"),
            _at("2023-12-14 08:00:00"),
        )
        notepad = programs["Notepad++ (64-bit x64) 8.5.8"]
        assert (
            notepad.product_code == "cpe:2.3:a:notepad-plus-plus:notepad\\+\\+:8.5.8:*:*:*:*:*:*:*"
        )

        python = _software(session, "WS-FIN-014", "pip")
        assert sorted(python) == [
            "certifi 2023.7.22",
            "idna 3.4",
            "requests 2.25.1",
            "urllib3 1.26.4",
        ]
        urllib3 = python["urllib3 1.26.4"]
        assert (urllib3.product_code, urllib3.install_path) == (
            "pkg:pypi/urllib3@1.26.4",
            "C:\\Program Files\\Python311\\Lib\\site-packages\\urllib3-1.26.4.dist-info",
        )

        hotfixes = _hotfixes(session, "WS-FIN-014")
        assert sorted(hotfixes) == ["KB5011048", "KB5032189", "KB5032907", "KB5033372"]
        assert (hotfixes["KB5032189"].description, hotfixes["KB5032189"].installed_on) == (
            "Security Update",
            _at("2023-11-15 00:00:00"),
        )
        assert hotfixes["KB5033372"].source == "osquery"


def test_osquery_differential_results_add_and_remove(sessions: sessionmaker[Session]) -> None:
    _import(sessions, WINDOWS)

    summary = _import(sessions, WINDOWS_LATER)

    # Chrome 120.0.6099.110 replaced by .130, 7-Zip uninstalled, one KB more.
    assert (summary.software_added, summary.software_removed) == (1, 2)
    assert (summary.hotfixes_added, summary.hotfixes_removed) == (1, 0)
    assert (summary.devices_created, summary.devices_updated) == (0, 1)
    with sessions() as session:
        programs = _software(session, "WS-FIN-014", "windows")
        assert len(programs) == 11
        assert "7-Zip 19.00 (x64) 19.00" not in programs
        assert "Google Chrome 120.0.6099.110" not in programs
        chrome = programs["Google Chrome 120.0.6099.130"]
        assert chrome.first_seen == _at("2023-12-17 08:00:00")
        # Untouched by the differential result: still last seen by the snapshot.
        assert programs["VLC media player 3.0.18"].last_seen == _at("2023-12-14 08:00:00")
        assert len(_software(session, "WS-FIN-014", "pip")) == 4
        assert "KB5034122" in _hotfixes(session, "WS-FIN-014")
        assert _device(session, "WS-FIN-014").last_seen == _at("2023-12-17 08:00:00")
        assert _device(session, "WS-FIN-014").inventory_collected_at == _at("2023-12-17 08:00:00")


def _snapshot_line(path: Path, number: int, **changes: Any) -> dict[str, Any]:
    line: dict[str, Any] = json.loads(path.read_text().splitlines()[number - 1])
    line.update(changes)
    return line


def _write(path: Path, *lines: dict[str, Any]) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def test_osquery_snapshot_replaces_only_its_own_table(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    _import(sessions, WINDOWS)
    python = _snapshot_line(WINDOWS, 4)
    python["snapshot"] = [row for row in python["snapshot"] if row["name"] != "requests"]
    python["unixTime"] += 3600

    summary = _import(sessions, _write(tmp_path / "later.log", python))

    assert (summary.software_added, summary.software_removed) == (0, 1)
    with sessions() as session:
        assert sorted(_software(session, "WS-FIN-014", "pip")) == [
            "certifi 2023.7.22",
            "idna 3.4",
            "urllib3 1.26.4",
        ]
        assert len(_software(session, "WS-FIN-014", "windows")) == 12
        assert _software(session, "WS-FIN-014", "pip")["idna 3.4"].last_seen == _at(
            "2023-12-14 09:00:00"
        )


def test_osquery_older_snapshot_removes_nothing_seen_later(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    _import(sessions, WINDOWS, WINDOWS_LATER)
    programs = _snapshot_line(WINDOWS, 1)
    # Firefox and its maintenance service: neither removed since.
    programs["snapshot"] = programs["snapshot"][1:3]
    programs["unixTime"] -= 86400

    summary = _import(sessions, _write(tmp_path / "older.log", programs))

    # Only what was last seen before the day-older snapshot could go; everything was seen since.
    assert (summary.software_added, summary.software_removed) == (0, 0)
    with sessions() as session:
        assert len(_software(session, "WS-FIN-014", "windows")) == 11


def test_osquery_first_batch_is_a_snapshot_only_with_counter_0(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    _import(sessions, WINDOWS)
    python = _snapshot_line(WINDOWS, 4)
    row = dict(python["snapshot"][0], name="six", version="1.16.0")
    batch = {k: v for k, v in python.items() if k not in ("snapshot", "action")}
    batch["unixTime"] += 60
    batch["diffResults"] = {"added": [row], "removed": []}

    counted = _import(sessions, _write(tmp_path / "c5.log", dict(batch, counter=5)))
    with sessions() as session:
        kept = sorted(_software(session, "WS-FIN-014", "pip"))
    first_run = _import(sessions, _write(tmp_path / "c0.log", dict(batch, counter=0)))

    assert (counted.software_added, counted.software_removed) == (1, 0)
    assert len(kept) == 5
    assert (first_run.software_added, first_run.software_removed) == (0, 4)
    with sessions() as session:
        assert sorted(_software(session, "WS-FIN-014", "pip")) == ["six 1.16.0"]


def test_osquery_debian_batches_and_upgrades(sessions: sessionmaker[Session]) -> None:
    summary = _import(sessions, DEBIAN)

    assert summary.status == "complete"
    # 16 packages and 2 Python ones in the first runs; then 2 upgraded and sudo removed.
    assert (summary.software_added, summary.software_removed) == (17, 0)
    with sessions() as session:
        device = _device(session, "db-bullseye-01")
        assert (device.os_family, device.os_name, device.os_version, device.os_release) == (
            "linux",
            "Debian GNU/Linux 11 (bullseye)",
            "11",
            "bullseye",
        )
        assert device.os_build is None
        packages = _software(session, "db-bullseye-01", "dpkg")
        assert len(packages) == 15
        assert "sudo 1.9.5p2-3+deb11u1" not in packages
        assert "openssl 1.1.1n-0+deb11u4" not in packages
        openssl = packages["libssl1.1 1.1.1w-0+deb11u1"]
        assert (openssl.source_package, openssl.arch, openssl.status, openssl.product_code) == (
            "openssl",
            "amd64",
            "install ok installed",
            "pkg:deb/debian/libssl1.1@1.1.1w-0%2Bdeb11u1",
        )
        assert packages["coreutils 8.32-4+b1"].source_package == "coreutils"
        assert packages["libc6 2.31-13+deb11u6"].source_package == "glibc"
        assert packages["bash 5.1-2+deb11u1"].source_package == "bash"
        assert packages["openssh-server 1:8.4p1-5+deb11u1"].source_package == "openssh"
        assert packages["old-kernel-image 5.10.0-21-amd64"].status == "deinstall ok config-files"
        python = _software(session, "db-bullseye-01", "pip")
        assert python["PyYAML 5.3.1"].product_code == "pkg:pypi/pyyaml@5.3.1"


def test_osquery_event_lines_of_a_first_run_join_into_one_snapshot(
    sessions: sessionmaker[Session],
) -> None:
    summary = _import(sessions, UBUNTU)

    assert summary.status == "complete"
    # os_version, the 6 deb_packages lines, the 2 npm_packages lines; then two changes.
    assert (summary.lines, summary.files[0].results, summary.results_applied) == (11, 5, 5)
    with sessions() as session:
        device = _device(session, "web-jammy-02")
        assert (device.machine_id, device.os_name, device.os_version, device.os_release) == (
            "9d3f2b64-5c1e-4e7a-a1d6-2f0c83b6e4a7",
            "Ubuntu 22.04.3 LTS (Jammy Jellyfish)",
            "22.04",
            "jammy",
        )
        packages = _software(session, "web-jammy-02", "dpkg")
        assert sorted(packages) == [
            "libssl3 3.0.2-0ubuntu1.10",
            "libxml2 2.9.13+dfsg-1ubuntu0.3",
            "nginx 1.18.0-6ubuntu14.4",
            "nginx-common 1.18.0-6ubuntu14.4",
            "openssl 3.0.2-0ubuntu1.10",
            "sudo 1.9.9-1ubuntu2.5",
        ]
        assert packages["nginx-common 1.18.0-6ubuntu14.4"].product_code == (
            "pkg:deb/ubuntu/nginx-common@1.18.0-6ubuntu14.4"
        )
        npm = _software(session, "web-jammy-02", "npm")
        assert sorted(npm) == ["@babel/core 7.22.5", "express 4.17.1"]
        assert npm["@babel/core 7.22.5"].product_code == "pkg:npm/@babel/core@7.22.5"
        assert npm["express 4.17.1"].install_path == "/srv/app/node_modules/express/package.json"


def test_osquery_rpm_packages_keep_epoch_release_and_source_package(
    sessions: sessionmaker[Session],
) -> None:
    _import(sessions, ROCKY)

    with sessions() as session:
        # Named only by its UUID (--host_identifier=uuid, no decorations).
        uuid = "0f6c3b1a-7d2e-4b8f-9e4a-1c2d3e4f5a6b"
        device = _device(session, uuid)
        assert (device.machine_id, device.os_name, device.os_version) == (
            uuid,
            "Rocky Linux 9.2 (Blue Onyx)",
            "9.2",
        )
        packages = _software(session, uuid, "rpm")
        assert sorted(packages) == [
            "bash 5.1.8-6.el9_1",
            "openssl 1:3.0.7-24.el9",
            "sudo 1.9.5p2-9.el9",
        ]
        openssl = packages["openssl 1:3.0.7-24.el9"]
        assert (openssl.vendor, openssl.source_package, openssl.arch, openssl.product_code) == (
            "Rocky Enterprise Software Foundation",
            "openssl",
            "x86_64",
            "pkg:rpm/rocky/openssl@1%3A3.0.7-24.el9",
        )


def _state(session: Session) -> list[Any]:
    devices = [
        (
            d.hostname,
            d.fqdn,
            d.machine_id,
            d.os_version,
            d.os_build,
            d.first_seen,
            d.last_seen,
            d.logged_on_users,
            d.sources,
        )
        for d in session.scalars(select(Device).order_by(Device.hostname))
    ]
    software = [
        (
            s.device_id,
            s.source,
            s.name,
            s.version,
            s.arch,
            s.vendor,
            s.source_package,
            s.install_path,
            s.status,
            s.product_code,
            s.first_seen,
            s.last_seen,
            s.id,
        )
        for s in session.scalars(select(Software).order_by(Software.id))
    ]
    hotfixes = [
        (h.id, h.device_id, h.hotfix_id, h.installed_on, h.first_seen, h.last_seen)
        for h in session.scalars(select(Hotfix).order_by(Hotfix.id))
    ]
    return [devices, software, hotfixes]


def test_osquery_import_twice_changes_nothing(sessions: sessionmaker[Session]) -> None:
    paths = (WINDOWS, WINDOWS_LATER, DEBIAN, UBUNTU, ROCKY)
    first = _import(sessions, *paths)
    with sessions() as session:
        before = _state(session)

    again = _import(sessions, *paths)

    assert first.devices_created == 4
    assert again.status == "complete"
    assert again.results_applied == first.results_applied
    assert (again.software_added, again.software_removed, again.software_changed) == (0, 0, 0)
    assert (again.hotfixes_added, again.hotfixes_removed) == (0, 0)
    assert (again.devices_created, again.devices_updated) == (0, 0)
    with sessions() as session:
        assert _state(session) == before


def test_osquery_bad_lines_are_reported_by_line_and_the_rest_imports(
    sessions: sessionmaker[Session],
) -> None:
    summary = _import(sessions, DAMAGED)

    file = summary.files[0]
    assert summary.status == "partial"
    assert (file.lines, file.results, file.bad_lines, file.bad_rows) == (9, 2, 5, 2)
    assert file.skipped_results == 1
    assert [(p.record, p.message.split(":")[0]) for p in file.problems] == [
        (1, "a row of query 'pack_inventory_python_packages' was skipped"),
        (1, "a row of query 'pack_inventory_python_packages' was skipped"),
        (2, "not JSON"),
        (3, "not a JSON object"),
        (4, "no host identity"),
        (5, "query 'pack_it_processes' maps to no inventory table"),
        (6, "the host's host name is not text of at most 255 printable characters"),
        (7, "field 'unixTime' (or 'calendarTime') is missing"),
    ]
    assert "column 'name' holds control characters" in file.problems[0].message
    assert "column 'name' is 300 characters long, the most is 255" in file.problems[1].message
    with sessions() as session:
        assert sorted(_software(session, "lab-07")) == ["requests 2.31.0", "six 1.16.0"]
        assert _device(session, "lab-07").os_name == "Debian GNU/Linux 12 (bookworm)"
        names = [name for (name,) in session.execute(select(Software.name))]
        assert not any("\x1b" in name for name in names)
        assert session.scalar(select(Device).where(Device.hostname.like("%\x1b%"))) is None


def test_osquery_bad_lines_lose_nothing_stored(sessions: sessionmaker[Session]) -> None:
    _import(sessions, WINDOWS)
    with sessions() as session:
        before = _state(session)

    summary = _import(sessions, DAMAGED)

    assert summary.software_removed == 0
    with sessions() as session:
        after = _state(session)
        assert [row for row in after[1] if row[0] == before[1][0][0]] == before[1]
        assert after[2] == before[2]


def test_osquery_read_lines_skips_a_line_over_the_limit() -> None:
    data = b'{"a": 1}\n' + b"x" * 5000 + b"\n" + b'{"b": 2}\n'

    lines = list(read_lines(io.BytesIO(data), limit=100))

    assert lines == [(1, b'{"a": 1}\n'), (2, None), (3, b'{"b": 2}\n')]


def test_osquery_query_map_by_name_glob_and_columns() -> None:
    queries = QueryMap.parse(["it_sw_*=programs"])

    assert queries.table_for("it_sw_daily", None) == "programs"
    assert queries.table_for("pack_inventory_deb_packages", None) == "deb_packages"
    assert queries.table_for("pack/windows/patches", None) == "patches"
    assert queries.table_for("kb_list", ["hotfix_id", "description"]) == "patches"
    assert queries.table_for("pip_things", ["name", "version", "summary", "path"]) == (
        "python_packages"
    )
    assert queries.table_for("processes", ["pid", "name", "path"]) is None


def test_osquery_device_merges_with_the_device_its_event_logs_made(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        device, _ = registry.find_or_add_from_logs(session, "ws-fin-014.CORP.example")
        device_id = device.id

    summary = _import(sessions, WINDOWS)

    assert (summary.devices_created, summary.devices_updated) == (0, 1)
    with sessions() as session:
        device = session.get_one(Device, device_id)
        assert device.sources == ["endpoint_logs", "osquery"]
        assert device.machine_id == WINDOWS_UUID
        assert len(_software(session, device.hostname, "windows")) == 12
        assert session.scalar(select(Device.id).where(Device.id != device_id)) is None


def test_osquery_two_imports_at_once_make_one_device_per_host(
    sessions: sessionmaker[Session],
) -> None:
    paths = (WINDOWS, DEBIAN, UBUNTU)
    summaries: list[OsquerySummary] = []

    def run() -> None:
        summaries.append(_import(sessions, *paths))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [s.status for s in summaries] == ["complete", "complete"]
    assert sum(s.devices_created for s in summaries) == 3
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Device)) == 3
        assert len(_software(session, "WS-FIN-014")) == 16
        assert len(_software(session, "db-bullseye-01")) == 17


def _os_row(**values: str) -> dict[str, str]:
    return {"patch": "", "platform": "windows", "platform_like": "windows", **values}


def test_osquery_windows_os_facts_of_windows_11_and_server_2022() -> None:
    eleven = tables.os_facts(
        _os_row(
            name="Microsoft Windows 11 Enterprise",
            version="10.0.22631",
            build="22631",
            revision="2861",
            arch="64-bit",
        )
    )
    server = tables.os_facts(
        _os_row(
            name="Microsoft Windows Server 2022 Datacenter",
            version="10.0.20348.2113",
            build="20348",
            arch="64-bit",
        )
    )
    unknown_revision = tables.os_facts(
        _os_row(name="Microsoft Windows 10 Pro", version="10.0.19045", build="19045", arch="")
    )

    assert (eleven.family, eleven.version, eleven.release, eleven.edition, eleven.arch) == (
        "windows",
        "10.0.22631.2861",
        "23H2",
        "Enterprise",
        "x86_64",
    )
    assert (server.version, server.build, server.release, server.edition) == (
        "10.0.20348.2113",
        "10.0.20348.2113",
        "21H2",
        "Datacenter",
    )
    # Without the revision the build is what osquery gives, never a guessed one.
    assert (unknown_revision.build, unknown_revision.arch) == ("10.0.19045", None)
