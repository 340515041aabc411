"""`hostwatch import osquery` as a user runs it: summaries, exit statuses, findings after."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from hostwatch.auth.roles import Role
from hostwatch.db.engine import make_session_factory
from hostwatch.devices.models import Device, Software
from hostwatch.ingest.osquery import OsqueryImporter
from hostwatch.vulns.models import Finding, VulnIdentifier
from tests.helpers import Api
from tests.shared import shared_data

DATA = Path(__file__).parent / "data" / "osquery"


def test_import_osquery_prints_a_json_summary_and_exits_0(hostwatch: Any) -> None:
    result = hostwatch("import", "osquery", str(DATA / "windows10-22h2-snapshot.log"), "--json")

    summary = json.loads(result.stdout)
    assert result.exit_code == 0, result.output
    assert {
        k: summary[k]
        for k in (
            "status",
            "files",
            "lines",
            "results_applied",
            "software_added",
            "software_removed",
            "hotfixes_added",
            "devices_created",
            "devices_updated",
            "bad_lines",
        )
    } == {
        "status": "complete",
        "files": 1,
        "lines": 5,
        "results_applied": 5,
        "software_added": 16,
        "software_removed": 0,
        "hotfixes_added": 4,
        "devices_created": 1,
        "devices_updated": 0,
        "bad_lines": 0,
    }


def test_import_osquery_reads_folders_and_gzip_and_exits_3_on_bad_lines(hostwatch: Any) -> None:
    result = hostwatch("import", "osquery", str(DATA), "--json")

    summary = json.loads(result.stdout)
    assert result.exit_code == 3, result.output
    assert summary["status"] == "partial"
    assert [Path(f["file"]).name for f in summary["per_file"]] == [
        "damaged.log",
        "debian11-batch.log",
        "rocky9-snapshot.log",
        "ubuntu2204-events.log.gz",
        "windows10-22h2-differential.log",
        "windows10-22h2-snapshot.log",
    ]
    assert summary["devices_created"] == 5
    damaged = summary["per_file"][0]
    assert [(p["line"], p["message"].split(":")[0]) for p in damaged["problems"]][2:4] == [
        (2, "not JSON"),
        (3, "not a JSON object"),
    ]


def test_import_osquery_text_summary_escapes_what_the_log_holds(
    hostwatch: Any, tmp_path: Path
) -> None:
    line = {
        "name": "pack_x_\u001b]0;owned\u0007",
        "hostIdentifier": "pc1",
        "unixTime": 1701676800,
        "snapshot": [{"pid": "1"}],
    }
    log = tmp_path / "osqueryd.results.log"
    log.write_text(json.dumps(line) + "\n")

    result = hostwatch("import", "osquery", str(log))

    assert result.exit_code == 1
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "field 'name' holds control characters" in result.stdout
    assert f"{log}, line 1:" in result.stdout


def test_import_osquery_maps_query_names_given_with_query(
    hostwatch: Any, tmp_path: Path, engine: Engine
) -> None:
    line = json.loads((DATA / "windows10-22h2-snapshot.log").read_text().splitlines()[0])
    line["name"] = "sw_inventory_nightly"
    line["snapshot"] = [{"name": "Google Chrome", "version": "120.0.6099.110", "publisher": "x"}]
    log = tmp_path / "results.log"
    log.write_text(json.dumps(line) + "\n")

    unknown = hostwatch("import", "osquery", str(log), "--json")
    mapped = hostwatch("import", "osquery", str(log), "--query", "sw_inventory_*=programs")
    refused = hostwatch("import", "osquery", str(log), "--query", "sw=processes")

    assert unknown.exit_code == 1
    assert json.loads(unknown.stdout)["skipped_results"] == 1
    assert mapped.exit_code == 0, mapped.output
    assert refused.exit_code == 2
    with engine.connect() as conn:
        assert conn.execute(select(Software.source, Software.name)).all() == [
            ("windows", "Google Chrome")
        ]


def test_import_osquery_missing_path_exits_1(hostwatch: Any, tmp_path: Path) -> None:
    result = hostwatch("import", "osquery", str(tmp_path / "nowhere.log"), "--json")

    assert result.exit_code == 1
    assert json.loads(result.stdout)["input_problems"] == [
        {"file": str(tmp_path / "nowhere.log"), "line": None, "message": "no such file or folder"}
    ]


def test_osquery_python_package_gets_its_finding_from_the_shared_feed(
    hostwatch: Any, engine: Engine
) -> None:
    feeds = hostwatch("feeds", "import", str(shared_data("osv_pypi", "vulns", "urllib3")))
    assert feeds.exit_code == 0, feeds.output

    result = hostwatch("import", "osquery", str(DATA / "windows10-22h2-snapshot.log"))

    assert result.exit_code == 0, result.output
    with engine.connect() as conn:
        rows = conn.execute(
            select(VulnIdentifier.identifier, Finding.status, Finding.fixed_version, Software.name)
            .join(Finding, Finding.vulnerability_id == VulnIdentifier.vulnerability_id)
            .join(Software, Software.id == Finding.software_id)
            .join(Device, Device.id == Finding.device_id)
            .where(Device.hostname == "WS-FIN-014")
        ).all()
    found = {identifier: (status, fixed, name) for identifier, status, fixed, name in rows}
    # urllib3 1.26.4 is before the fix of PYSEC-2021-108 (CVE-2021-33503), 1.26.5.
    assert found["PYSEC-2021-108"] == ("affected", "1.26.5", "urllib3")
    assert found["CVE-2021-33503"] == ("affected", "1.26.5", "urllib3")
    assert {name for _, _, name in found.values()} == {"urllib3"}


def test_osquery_device_is_served_by_the_api(api: Api) -> None:
    sessions = make_session_factory(api.engine)
    summary = OsqueryImporter(sessions).run([DATA / "windows10-22h2-snapshot.log"])
    viewer = api.token_for("viewer", Role.viewer)
    with sessions() as session:
        device_id = session.scalars(select(Device.id)).one()

    detail = api.client.get(f"/api/devices/{device_id}", headers=viewer)
    software = api.client.get(f"/api/devices/{device_id}/software?limit=100", headers=viewer)

    assert summary.status == "complete"
    assert detail.status_code == 200, detail.text
    body = detail.json()
    assert (body["sources"], body["details"]["hostname"], body["details"]["os_version"]) == (
        ["osquery"],
        "WS-FIN-014",
        "10.0.19045.3803",
    )
    assert [u["name"] for u in body["logged_on_users"]] == ["j.doe"]
    assert software.status_code == 200, software.text
    names = sorted(item["name"] for item in software.json()["items"])
    assert len(names) == 16
    assert "Mozilla Firefox (x64 en-US)" in names


def test_osquery_windows_program_gets_its_finding_from_the_shared_nvd_feed(
    hostwatch: Any, engine: Engine
) -> None:
    nvd = shared_data("nvd_cve", "nvdcve-2.0-desktop-CVE-2017-2023.json.gz")
    assert hostwatch("feeds", "import", str(nvd)).exit_code == 0

    result = hostwatch("import", "osquery", str(DATA / "windows10-22h2-snapshot.log"))

    assert result.exit_code == 0, result.output
    with engine.connect() as conn:
        rows = conn.execute(
            select(VulnIdentifier.identifier, Finding.status, Software.name, Finding.evidence)
            .join(Finding, Finding.vulnerability_id == VulnIdentifier.vulnerability_id)
            .join(Software, Software.id == Finding.software_id)
        ).all()
    firefox = {
        identifier: (status, evidence)
        for identifier, status, name, evidence in rows
        if name == "Mozilla Firefox (x64 en-US)"
    }
    # Firefox 115.0 is before 116.0, where CVE-2023-4045 was fixed.
    status, evidence = firefox["CVE-2023-4045"]
    assert status == "affected"
    assert {e["cpe"] for e in evidence} == {"cpe:2.3:a:mozilla:firefox:*:*:*:*:*:*:*:*"}
    # The maintenance service shares the vendor, not the product: no findings.
    assert "Mozilla Maintenance Service" not in {name for _, _, name, _ in rows}
