"""A device's inventory matched against imported feeds: findings with their evidence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hostwatch.db.engine import transaction
from hostwatch.vulns import evidence, findings
from hostwatch.vulns.models import Finding, Vulnerability
from tests.shared import shared_data
from tests.vulns.conftest import add_device, osv_record, write_json


def _findings(sessions: sessionmaker[Session], device_id: str) -> dict[tuple[str, str], Any]:
    with sessions() as session:
        rows = session.execute(
            select(Vulnerability.key, Finding)
            .join(Finding, Finding.vulnerability_id == Vulnerability.id)
            .where(Finding.device_id == device_id)
        ).all()
        return {(key, f.installed_version): f for key, f in rows}


def _refresh(sessions: sessionmaker[Session], device_id: str) -> findings.RefreshResult:
    with transaction(sessions) as session:
        return findings.refresh_device(session, device_id)


def test_debian_pip_and_unknown_findings_explain_themselves(
    hostwatch: Any, sessions: sessionmaker[Session]
) -> None:
    hostwatch(
        "feeds",
        "import",
        str(shared_data("debian_security_tracker", "DSA", "list")),
        str(shared_data("osv_pypi", "vulns", "accesscontrol")),
    )
    device_id, _ = add_device(
        sessions,
        [
            # Older than DSA-5380-1's fix for bullseye, by its source package.
            {
                "source": "dpkg",
                "name": "xserver-xorg-core",
                "version": "2:1.20.11-1+deb11u5",
                "source_package": "xorg-server",
            },
            # The fixed version itself.
            {
                "source": "dpkg",
                "name": "xserver-common",
                "version": "2:1.20.11-1+deb11u6",
                "source_package": "xorg-server",
            },
            {"source": "pip", "name": "AccessControl", "version": "5.1"},
            {"source": "pip", "name": "accesscontrol", "version": ""},
        ],
    )

    result = _refresh(sessions, device_id)
    found = _findings(sessions, device_id)

    xorg = found[("CVE-2023-1393", "2:1.20.11-1+deb11u5")]
    assert xorg.status == "affected"
    assert xorg.fixed_version == "2:1.20.11-1+deb11u6"
    assert {"feed": "debian", "advisory": "DSA-5380-1"}.items() <= xorg.evidence[0].items()
    assert xorg.evidence[0]["range"] == "<2:1.20.11-1+deb11u6"
    assert ("CVE-2023-1393", "2:1.20.11-1+deb11u6") not in found
    access = found[("CVE-2021-32807", "5.1")]
    assert (access.status, access.fixed_version) == ("affected", "5.2")
    assert access.evidence[0]["advisory"] == "PYSEC-2021-335"
    unknown = found[("CVE-2021-32807", "")]
    assert unknown.status == "unknown"
    assert unknown.evidence[0]["reason"] == "the installed package has no version"
    assert result.added == len(found)


def test_refresh_is_stable_and_a_withdrawn_advisory_stops_matching(
    hostwatch: Any, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    events = [{"introduced": "0"}, {"fixed": "2.0"}]
    write_json(tmp_path / "w.json", osv_record("OSV-W", "demo-pkg", events, aliases=["CVE-2099-7"]))
    hostwatch("feeds", "import", str(tmp_path / "w.json"))
    device_id, _ = add_device(sessions, [{"source": "pip", "name": "Demo_Pkg", "version": "1.5"}])
    first = _refresh(sessions, device_id)
    before = _findings(sessions, device_id)

    again = _refresh(sessions, device_id)
    write_json(
        tmp_path / "w.json",
        osv_record(
            "OSV-W",
            "demo-pkg",
            events,
            aliases=["CVE-2099-7"],
            modified="2024-05-01T00:00:00Z",
            withdrawn="2024-05-01T00:00:00Z",
        ),
    )
    # The import re-matches on its own; here the refresh itself is under test.
    hostwatch("feeds", "import", str(tmp_path / "w.json"), "--no-rematch")
    after = _refresh(sessions, device_id)

    assert (first.affected, first.added) == (1, 1)
    assert list(before) == [("CVE-2099-7", "1.5")]
    assert (again.added, again.removed, again.changed) == (0, 0, 0)
    assert (after.removed, after.affected) == (1, 0)
    assert _findings(sessions, device_id) == {}


def test_windows_programs_match_nvd_by_cpe(hostwatch: Any, sessions: sessionmaker[Session]) -> None:
    hostwatch("feeds", "import", str(shared_data("nvd_cve", "nvdcve-2.0-desktop-CVE-2024.json.gz")))
    device_id, _ = add_device(
        sessions,
        [
            {
                "source": "windows",
                "name": "Mozilla Firefox (x64 en-US)",
                "version": "121.0",
                "vendor": "Mozilla",
            },
            {
                "source": "windows",
                "name": "Mozilla Thunderbird (x64 en-US)",
                "version": "128.0",
                "vendor": "Mozilla",
            },
        ],
        os_family="windows",
        os_name="Microsoft Windows 10 Pro",
        os_version="10.0.19045.3803",
    )

    _refresh(sessions, device_id)
    found = _findings(sessions, device_id)

    firefox = found[("CVE-2024-0755", "121.0")]
    assert firefox.status == "affected"
    assert firefox.fixed_version == "122.0"
    assert firefox.evidence[0]["cpe"] == "cpe:2.3:a:mozilla:firefox:*:*:*:*:*:*:*:*"
    assert firefox.evidence[0]["mapping"] == "table: ^mozilla firefox$"
    assert not any(version == "128.0" and key == "CVE-2024-0755" for key, version in found)


def _by_software(sessions: sessionmaker[Session], device_id: str) -> dict[tuple[int, str], Any]:
    with sessions() as session:
        rows = session.execute(
            select(Vulnerability.key, Finding)
            .join(Finding, Finding.vulnerability_id == Vulnerability.id)
            .where(Finding.device_id == device_id)
        ).all()
        return {(f.software_id, key): f for key, f in rows}


def test_a_python_package_the_distribution_installed_is_decided_by_its_advisories(
    hostwatch: Any, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    # Three PyPI advisories for cryptography 38.0.4; Debian fixed the first in bookworm at
    # the installed 38.0.4-3+deb12u1 (a backport), the second only later; of the third
    # Debian says nothing.
    for number, fixed in ((1, "39.0.1"), (2, "41.0.0"), (3, "40.0.0")):
        write_json(
            tmp_path / "osv" / f"{number}.json",
            osv_record(
                f"OSV-CRYPTO-{number}",
                "cryptography",
                [{"introduced": "0"}, {"fixed": fixed}],
                aliases=[f"CVE-2099-100{number}"],
            ),
        )
    tracker = tmp_path / "DSA" / "list"
    tracker.parent.mkdir()
    tracker.write_text(
        "[01 Feb 2099] DSA-9901-1 python-cryptography - security update\n"
        "\t{CVE-2099-1001}\n"
        "\t[bookworm] - python-cryptography 38.0.4-3+deb12u1\n"
        "[01 Mar 2099] DSA-9902-1 python-cryptography - security update\n"
        "\t{CVE-2099-1002}\n"
        "\t[bookworm] - python-cryptography 38.0.4-3+deb12u2\n",
        encoding="utf-8",
    )
    hostwatch("feeds", "import", str(tmp_path / "osv"), str(tracker))
    device_id, ids = add_device(
        sessions,
        [
            {
                "source": "dpkg",
                "name": "python3-cryptography",
                "version": "38.0.4-3+deb12u1",
                "source_package": "python-cryptography",
            },
            {
                "source": "pip",
                "name": "cryptography",
                "version": "38.0.4",
                "install_path": "/usr/lib/python3/dist-packages",
            },
            # pip's own install of the same release: PyPI's advisories alone apply.
            {
                "source": "pip",
                "name": "Cryptography",
                "version": "38.0.4",
                "install_path": "/usr/local/lib/python3.11/dist-packages",
            },
        ],
        os_name="Debian GNU/Linux 12 (bookworm)",
        os_version="12",
    )

    _refresh(sessions, device_id)
    found = _by_software(sessions, device_id)

    system, pip = ids["cryptography"], ids["Cryptography"]
    assert {key for software, key in found if software == pip} == {
        "CVE-2099-1001",
        "CVE-2099-1002",
        "CVE-2099-1003",
    }
    assert all(
        "distribution" not in e for (s, _), f in found.items() if s == pip for e in f.evidence
    )
    assert {f.status for (s, _), f in found.items() if s == pip} == {"affected"}
    # Debian's fix of the first reached the installed package: no finding.
    assert {key for software, key in found if software == system} == {
        "CVE-2099-1002",
        "CVE-2099-1003",
    }
    decided = found[(system, "CVE-2099-1002")]
    assert decided.status == "affected"
    assert decided.evidence[0]["distribution"] == {
        "path": "/usr/lib/python3/dist-packages",
        "package": "python3-cryptography",
        "version": "38.0.4-3+deb12u1",
        "decided": "Debian:12 advisories find python3-cryptography affected too",
    }
    # No Debian advisory names the third: PyPI's verdict can not stand for Debian's build.
    marked = found[(system, "CVE-2099-1003")]
    assert marked.status == "unknown"
    assert (
        marked.evidence[0]["distribution"]["backport"] == "may be fixed by a distribution backport"
    )
    told = evidence.explain(marked.evidence[0], marked.installed_version).text
    assert "Not decided: the distribution's package" in told
    assert "installed this package as python3-cryptography 38.0.4-3+deb12u1" in told
    assert "may be fixed by a distribution backport" in told
    assert (ids["python3-cryptography"], "CVE-2099-1002") in found
    assert (ids["python3-cryptography"], "CVE-2099-1001") not in found
