"""`hostwatch feeds import` on the shared feeds and on feed files made here: summaries,
incremental imports, aliases, withdrawn and malformed advisories."""

from __future__ import annotations

import gzip
import json
import zipfile
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from hostwatch.vulns.models import Advisory, AdvisoryLink, Affected, Vulnerability, VulnIdentifier
from tests.shared import shared_data
from tests.vulns.conftest import osv_record, write_json


def _count(engine: Engine, column: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count(column))).scalar_one())


def _vulnerability_of(engine: Engine, identifier: str) -> int | None:
    with engine.connect() as conn:
        return conn.execute(
            select(VulnIdentifier.vulnerability_id).where(VulnIdentifier.identifier == identifier)
        ).scalar()


def test_shared_feeds_import_then_reimport_adds_nothing(hostwatch: Any, engine: Engine) -> None:
    feeds = [shared_data(name) for name in ("osv_pypi", "nvd_cve", "cisa_kev")]
    debian = shared_data("debian_security_tracker")

    first = json.loads(hostwatch("feeds", "import", *map(str, feeds), str(debian), "--json").stdout)
    again = json.loads(hostwatch("feeds", "import", *map(str, feeds), str(debian), "--json").stdout)

    assert first["records_by_feed"] == {"osv": 2661, "nvd": 4533, "kev": 1404, "debian": 8939}
    assert (first["added"], first["updated"], first["withdrawn"]) == (17537, 0, 10)
    # The one malformed advisory of the tracker lists: a package name where its version goes.
    assert [p["message"] for f in first["per_file"] for p in f["problems"]] == [
        "skipped: line 17244: DSA-423: 'kernel-image-2.4.17-ia64' is not a Debian version"
    ]
    assert first["status"] == "partial"
    assert (again["added"], again["updated"], again["unchanged"]) == (0, 0, 17537)
    assert _count(engine, Advisory.id) == 17537
    # PYSEC, its CVE alias, the NVD record and the KEV entry of the same CVE are one.
    assert _vulnerability_of(engine, "CVE-2021-32807") == _vulnerability_of(
        engine, "PYSEC-2021-335"
    )
    assert _vulnerability_of(engine, "GHSA-qcx9-j53g-ccgf") == _vulnerability_of(
        engine, "PYSEC-2021-335"
    )


def test_debian_advisory_links_each_of_its_cves(hostwatch: Any, engine: Engine) -> None:
    hostwatch("feeds", "import", str(shared_data("debian_security_tracker", "DSA", "list")))

    with engine.connect() as conn:
        linked = (
            conn.execute(
                select(Vulnerability.key)
                .join(AdvisoryLink, AdvisoryLink.vulnerability_id == Vulnerability.id)
                .join(Advisory, Advisory.id == AdvisoryLink.advisory_id)
                .where(Advisory.record_id == "DSA-5376-1")
                .order_by(Vulnerability.key)
            )
            .scalars()
            .all()
        )
        affected = conn.execute(
            select(Affected.ecosystem, Affected.package, Affected.ranges)
            .join(Advisory, Advisory.id == Affected.advisory_id)
            .where(Advisory.record_id == "DSA-5376-1")
        ).all()

    assert linked == [
        "CVE-2006-20001",
        "CVE-2022-36760",
        "CVE-2022-37436",
        "CVE-2023-25690",
        "CVE-2023-27522",
    ]
    assert [tuple(row) for row in affected] == [
        (
            "Debian:11",
            "apache2",
            [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.4.56-1~deb11u1"}]}],
        )
    ]


def test_changed_record_updates_and_unchanged_is_skipped(
    hostwatch: Any, engine: Engine, tmp_path: Path
) -> None:
    feed = tmp_path / "feed"
    write_json(
        feed / "a.json", osv_record("OSV-A", "demo", [{"introduced": "0"}, {"fixed": "1.0"}])
    )
    write_json(
        feed / "b.json", osv_record("OSV-B", "demo", [{"introduced": "0"}, {"fixed": "2.0"}])
    )
    hostwatch("feeds", "import", str(feed))
    write_json(
        feed / "b.json",
        osv_record(
            "OSV-B",
            "demo",
            [{"introduced": "0"}, {"fixed": "2.1"}],
            modified="2024-02-01T00:00:00Z",
        ),
    )

    summary = json.loads(hostwatch("feeds", "import", str(feed), "--json").stdout)

    assert (summary["added"], summary["updated"], summary["unchanged"]) == (0, 1, 1)
    with engine.connect() as conn:
        stored = (
            conn.execute(
                select(Affected.ranges)
                .join(Advisory, Advisory.id == Affected.advisory_id)
                .where(Advisory.record_id == "OSV-B")
            )
            .scalars()
            .all()
        )
    assert stored == [[{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.1"}]}]]


def test_aliases_join_and_merge_stored_vulnerabilities(
    hostwatch: Any, engine: Engine, tmp_path: Path
) -> None:
    events = [{"introduced": "0"}, {"fixed": "1.0"}]
    write_json(tmp_path / "1.json", osv_record("GHSA-aaaa", "demo", events))
    write_json(tmp_path / "2.json", osv_record("PYSEC-1", "demo", events, aliases=["CVE-2099-1"]))
    hostwatch("feeds", "import", str(tmp_path / "1.json"), str(tmp_path / "2.json"))
    assert _vulnerability_of(engine, "GHSA-aaaa") != _vulnerability_of(engine, "PYSEC-1")

    # A record that names both joins the two into one, named by the CVE.
    write_json(
        tmp_path / "3.json",
        osv_record("OSV-3", "demo", events, aliases=["GHSA-aaaa", "CVE-2099-1"]),
    )
    hostwatch("feeds", "import", str(tmp_path / "3.json"))

    joined = _vulnerability_of(engine, "GHSA-aaaa")
    assert joined == _vulnerability_of(engine, "PYSEC-1") == _vulnerability_of(engine, "OSV-3")
    assert _count(engine, Vulnerability.id) == 1
    with engine.connect() as conn:
        key = conn.execute(select(Vulnerability.key)).scalar_one()
        links = conn.execute(select(func.count(AdvisoryLink.advisory_id))).scalar_one()
    assert (key, links) == ("CVE-2099-1", 3)


def test_malformed_advisories_are_skipped_with_file_and_reason(
    hostwatch: Any, engine: Engine, tmp_path: Path
) -> None:
    feed = tmp_path / "feed"
    good = osv_record("OSV-GOOD", "demo", [{"introduced": "0"}, {"fixed": "1.0"}])
    write_json(feed / "good.json", good)
    (feed / "bad.yaml").write_text("id: OSV-BAD\naffected: [unclosed\n", encoding="utf-8")
    write_json(feed / "v2.json", {**good, "id": "OSV-V2", "schema_version": "2.0.0"})
    write_json(feed / "nomod.json", {k: v for k, v in good.items() if k != "modified"})
    nameless = json.loads(json.dumps(good))
    nameless["id"] = "OSV-NONAME"
    del nameless["affected"][0]["package"]["name"]
    write_json(feed / "noname.json", nameless)
    badevent = json.loads(json.dumps(good))
    badevent["id"] = "OSV-EVENT"
    badevent["affected"][0]["ranges"][0]["events"] = [{"introduced": "0", "fixed": "1"}]
    write_json(feed / "event.json", badevent)

    result = hostwatch("feeds", "import", str(feed), "--json")

    summary = json.loads(result.stdout)
    problems = {
        Path(p["file"]).name: p["message"] for f in summary["per_file"] for p in f["problems"]
    }
    assert result.exit_code == 3
    assert summary["added"] == 1
    assert problems["bad.yaml"].startswith("skipped: not valid YAML")
    assert problems["v2.json"] == "skipped: unknown OSV schema_version '2.0.0' (supported: 1.x)"
    assert problems["nomod.json"] == "skipped: OSV-GOOD: field 'modified' is missing"
    assert problems["noname.json"] == (
        "skipped: OSV-NONAME: affected[0].package: field 'name' is missing"
    )
    assert "must have exactly one of introduced" in problems["event.json"]
    assert set(problems) == {"bad.yaml", "v2.json", "nomod.json", "noname.json", "event.json"}


def test_gzip_zip_and_yaml_inputs_import(hostwatch: Any, tmp_path: Path) -> None:
    record = osv_record("OSV-Z", "demo", [{"introduced": "0"}, {"fixed": "1.0"}])
    with zipfile.ZipFile(tmp_path / "osv.zip", "w") as archive:
        archive.writestr("OSV-Z.json", json.dumps(record))
    nvd = gzip.compress(shared_data("nvd_cve", "nvdcve-2.0-desktop-CVE-2024.json.gz").read_bytes())
    (tmp_path / "twice.json.gz").write_bytes(nvd)  # gzip inside gzip is not unpacked twice
    yaml_file = shared_data("osv_pypi", "vulns", "accesscontrol")

    summary = json.loads(
        hostwatch(
            "feeds",
            "import",
            str(tmp_path / "osv.zip"),
            str(shared_data("nvd_cve", "nvdcve-2.0-desktop-CVE-2024.json.gz")),
            str(yaml_file),
            "--json",
        ).stdout
    )

    assert summary["records_by_feed"]["nvd"] == 69
    assert summary["records_by_feed"]["osv"] == 1 + len(list(yaml_file.glob("*.yaml")))
    assert summary["status"] == "complete"


def test_a_named_file_that_is_no_feed_is_a_problem(hostwatch: Any, tmp_path: Path) -> None:
    write_json(tmp_path / "other.json", {"hello": "world"})

    result = hostwatch("feeds", "import", str(tmp_path / "other.json"), "--json")

    summary = json.loads(result.stdout)
    assert result.exit_code == 1
    assert summary["per_file"][0]["problems"][0]["message"].startswith("not a feed file")


def test_withdrawn_advisory_keeps_its_record_and_loses_its_packages(
    hostwatch: Any, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    events = [{"introduced": "0"}, {"fixed": "1.0"}]
    write_json(tmp_path / "w.json", osv_record("OSV-W", "demo", events))
    hostwatch("feeds", "import", str(tmp_path / "w.json"))
    write_json(
        tmp_path / "w.json",
        osv_record(
            "OSV-W",
            "demo",
            events,
            modified="2024-03-01T00:00:00Z",
            withdrawn="2024-03-01T00:00:00Z",
        ),
    )

    summary = json.loads(hostwatch("feeds", "import", str(tmp_path / "w.json"), "--json").stdout)

    with sessions() as session:
        advisory = session.scalars(select(Advisory)).one()
        packages = session.scalar(select(func.count(Affected.id)))
    assert (summary["updated"], summary["withdrawn"]) == (1, 1)
    assert advisory.withdrawn is not None
    assert packages == 0
