"""Missing Windows updates from the shared MSRC documents imported with `hostwatch feeds import`."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from hostwatch.db.engine import transaction
from hostwatch.devices.models import Device
from hostwatch.vulns import missing_updates
from hostwatch.vulns.models import Advisory, VulnIdentifier
from tests.shared import shared_data

WIN10_KBS = ["5035845", "5034763", "5034122", "5033372"]


def _device(sessions: sessionmaker[Session], **facts: Any) -> str:
    with transaction(sessions) as session:
        device = Device(hostname="win-host", **facts)
        session.add(device)
        session.flush()
        return device.id


def _updates(sessions: sessionmaker[Session], device_id: str, hotfixes: tuple[str, ...] = ()):
    with sessions() as session:
        device = session.get(Device, device_id)
        assert device is not None
        return missing_updates.for_device(session, device, hotfixes)


def test_imported_documents_give_a_windows_10_device_its_missing_updates(
    hostwatch: Any, engine: Engine, sessions: sessionmaker[Session]
) -> None:
    folder = shared_data("msrc_cvrf")
    first = json.loads(hostwatch("feeds", "import", str(folder), "--json").stdout)
    again = json.loads(hostwatch("feeds", "import", str(folder), "--json").stdout)
    # One record per CVE and month; the one bad CVE id of February is reported, not stored.
    assert first["records_by_feed"] == {"msrc": 51 + 85 + 96 + 81}
    problems = [p["message"] for f in first["per_file"] for p in f["problems"]]
    assert problems == ["skipped: a vulnerability with a malformed CVE id 'CVE-2024-21626M'"]
    assert again["added"] == 0 and again["unchanged"] == first["added"]

    device = _device(
        sessions,
        os_family="windows",
        os_name="Microsoft Windows 10 Pro",
        os_version="10.0.19045.3693",
        os_arch="64-bit",
    )
    result = _updates(sessions, device)
    assert result.status == "assessed"
    assert result.product == "Windows 10 Version 22H2 for x64-based Systems"
    assert [m.kb for m in result.missing] == WIN10_KBS
    assert [m.month for m in result.missing] == ["2024-Mar", "2024-Feb", "2024-Jan", "2023-Dec"]
    february = result.missing[1]
    assert "CVE-2024-21351" in february.cves
    assert february.reason == "build 10.0.19045.3693 < fixed build 10.0.19045.4046 (KB5034763)"
    assert result.cves["CVE-2024-21351"].exploited
    # Exploited CVEs among the missing updates' CVEs, counted from the stored records.
    with engine.connect() as conn:
        exploited_ids = {
            record_id.partition(":")[2]
            for record_id, data in conn.execute(
                select(Advisory.record_id, Advisory.data).where(Advisory.feed == "msrc")
            )
            if (data if isinstance(data, dict) else json.loads(data))["exploited"]
        }
    missing_cves = {cve for m in result.missing for cve in m.cves}
    assert result.exploited_count == len(missing_cves & exploited_ids) > 0
    assert result.cve_count == len(missing_cves)
    # The CVEs join the knowledge base's vulnerabilities by id.
    with engine.connect() as conn:
        found = conn.execute(
            select(func.count()).where(VulnIdentifier.identifier == "CVE-2024-21351")
        ).scalar_one()
    assert found == 1

    # The March KB installed on a stale build: nothing March supersedes is missing.
    assert _updates(sessions, device, ("KB5035845",)).missing == []


def test_a_device_without_a_build_revision_is_unknown(
    hostwatch: Any, sessions: sessionmaker[Session]
) -> None:
    hostwatch("feeds", "import", str(shared_data("msrc_cvrf", "cvrfDocument-2024-Mar.xml")))
    device = _device(
        sessions,
        os_family="windows",
        os_name="Microsoft Windows 10 Pro",
        os_version="10.0.19045",
        os_arch="64-bit",
    )
    result = _updates(sessions, device)
    assert (result.status, result.missing) == ("unknown", [])
    assert "revision" in result.reason
    linux = _device(sessions, os_family="linux", os_name="Debian GNU/Linux 11", os_version="11")
    assert _updates(sessions, linux).status == "not_windows"


def test_without_documents_for_its_product_a_device_is_unknown(
    sessions: sessionmaker[Session],
) -> None:
    device = _device(
        sessions,
        os_family="windows",
        os_name="Microsoft Windows 11 Pro",
        os_version="10.0.22631.2715",
        os_arch="64-bit",
    )
    result = _updates(sessions, device)
    assert result.status == "unknown"
    assert "Windows 11 Version 23H2 for x64-based Systems" in result.reason


def test_a_bad_document_beside_good_ones_is_reported_and_the_rest_imported(
    hostwatch: Any, tmp_path: Path
) -> None:
    bad = tmp_path / "cvrfDocument-2024-Apr.xml"
    bad.write_bytes(
        b"<cvrf:cvrfdoc xmlns:cvrf='http://www.icasi.org/CVRF/schema/cvrf/1.1'>"
        b"<cvrf:DocumentTitle>cut short"
    )
    good = shared_data("msrc_cvrf", "cvrfDocument-2023-Dec.xml")
    result = hostwatch("feeds", "import", str(bad), str(good), "--json")
    summary = json.loads(result.stdout)
    assert result.exit_code == 3
    assert summary["records_by_feed"] == {"msrc": 51}
    problems = [p for f in summary["per_file"] for p in f["problems"]]
    assert [(p["file"], p["message"]) for p in problems] == [
        (str(bad), "skipped: not a readable CVRF document: no element found: line 1, column 98")
    ]


def test_an_unknown_product_id_is_reported_with_its_element_and_the_rest_imports(
    hostwatch: Any, tmp_path: Path
) -> None:
    text = shared_data("msrc_cvrf", "cvrfDocument-2023-Dec.xml").read_text(encoding="utf-8")
    # The first Vendor Fix with a KB of the document now names a product the tree does not list
    # (this document writes its elements without a namespace prefix; others with one).
    fix = re.search(
        r'<(?:\w+:)?Remediation Type="Vendor Fix">\s*<(?:\w+:)?Description>\d{7}<', text
    )
    assert fix is not None
    product = re.compile(r"(<(?:\w+:)?ProductID>)(\d+)(<)").search(text, fix.end())
    assert product is not None
    broken = text[: product.start(2)] + "99999" + text[product.end(2) :]
    cve = re.findall(r"<(?:\w+:)?CVE>(CVE-[\d-]+)<", text[: fix.start()])[-1]
    path = tmp_path / "cvrfDocument-2023-Dec.xml"
    path.write_text(broken, encoding="utf-8")

    result = hostwatch("feeds", "import", str(path), "--json")
    summary = json.loads(result.stdout)

    assert result.exit_code == 3
    assert summary["records_by_feed"] == {"msrc": 51}
    messages = [(p["file"], p["message"]) for f in summary["per_file"] for p in f["problems"]]
    assert len(messages) == 1
    file, message = messages[0]
    assert file == str(path)
    assert message.startswith(f"skipped: Vulnerability {cve}, Remediation KB")
    assert "ProductID '99999' is not in the ProductTree" in message


def test_the_json_form_imports_as_a_feed(hostwatch: Any, tmp_path: Path) -> None:
    from tests.vulns.test_msrc import json_document

    path = tmp_path / "2024-Mar.json"
    path.write_text(json.dumps(json_document()), encoding="utf-8")
    summary = json.loads(hostwatch("feeds", "import", str(path), "--json").stdout)
    assert (summary["records_by_feed"], summary["added"]) == ({"msrc": 1}, 1)
