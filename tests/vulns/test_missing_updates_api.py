"""`GET /api/devices/{id}/missing-updates`: Windows KBs and Debian advisories for the tab."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from hostwatch.auth.roles import Role
from hostwatch.db.engine import transaction
from hostwatch.devices.models import Device, Hotfix, Software
from hostwatch.vulns.findings import refresh_device
from hostwatch.vulns.importer import FeedImporter
from tests.helpers import Api
from tests.shared import shared_data


@pytest.fixture
def viewer(api: Api) -> dict[str, str]:
    return api.token_for("vera", Role.viewer)


def _add_device(api: Api, software: Sequence[dict[str, Any]] = (), **facts: Any) -> str:
    with transaction(api.sessions()) as session:
        device = Device(hostname=facts.pop("hostname", "host"), **facts)
        session.add(device)
        session.flush()
        session.add_all(Software(device_id=device.id, **item) for item in software)
        session.flush()
        if software:
            refresh_device(session, device.id)
        return device.id


def test_a_windows_device_on_the_february_build_misses_march_only(
    api: Api, viewer: dict[str, str]
) -> None:
    FeedImporter(api.sessions()).run([shared_data("msrc_cvrf")])
    device = _add_device(
        api,
        hostname="win10",
        os_family="windows",
        os_name="Microsoft Windows 10 Enterprise",
        os_version="10.0.19045.4046",
        os_arch="64-bit",
    )

    page = api.client.get(f"/api/devices/{device}/missing-updates", headers=viewer).json()

    assert page["status"] == "assessed"
    assert page["product"] == "Windows 10 Version 22H2 for x64-based Systems"
    assert page["build"] == "10.0.19045.4046"
    [march] = page["items"]
    assert (march["kb"], march["bulletin"], march["fixed_build"]) == (
        "KB5035845",
        "2024-Mar",
        "10.0.19045.4170",
    )
    assert march["url"] == "https://catalog.update.microsoft.com/v7/site/Search.aspx?q=KB5035845"
    assert march["cve_count"] == len(march["cves"]) == page["cves_addressed"]
    assert "Restart required" in march["tags"]
    assert march["reason"] == "build 10.0.19045.4046 < fixed build 10.0.19045.4170 (KB5035845)"
    # February and older are installed, shown by the build itself.
    assert page["installed"]["5034763"] == "build 10.0.19045.4046 >= fixed build 10.0.19045.4046"
    assert page["updates_missing"] == page["total"] == 1
    assert page["advisories"] == []


def test_a_debian_device_lists_the_advisories_it_has_not_applied(
    api: Api, viewer: dict[str, str]
) -> None:
    FeedImporter(api.sessions()).run([shared_data("debian_security_tracker", "DSA", "list")])
    dpkg = {"source": "dpkg", "arch": "amd64"}
    device = _add_device(
        api,
        software=[
            # Below two DSAs' fixed versions (a "~" version): both listed.
            {
                "name": "apache2-bin",
                "version": "2.4.52-1~deb11u1",
                "source_package": "apache2",
                **dpkg,
            },
            # The epoch 2 of the fixed version is above an installed version without one.
            {
                "name": "xserver-xorg-core",
                "version": "1.20.11-1+deb11u6",
                "source_package": "xorg-server",
                **dpkg,
            },
            # Exactly at DSA-5379-1's fixed version: not listed.
            {"name": "dino-im", "version": "0.2.0-3+deb11u1", **dpkg},
        ],
        hostname="deb11",
        os_family="linux",
        os_name="Debian GNU/Linux 11 (bullseye)",
        os_version="11",
    )

    page = api.client.get(f"/api/devices/{device}/missing-updates", headers=viewer).json()

    assert page["status"] == "not_windows" and page["items"] == []
    rows = {(a["advisory"], a["package"]): a for a in page["advisories"]}
    assert ("DSA-5379-1", "dino-im") not in rows
    apache = rows[("DSA-5376-1", "apache2")]
    assert apache["fixed_version"] == "2.4.56-1~deb11u1"
    assert apache["installed_version"] == "2.4.52-1~deb11u1"
    assert apache["binary_packages"] == ["apache2-bin"]
    assert apache["cves"] == [
        "CVE-2006-20001",
        "CVE-2022-36760",
        "CVE-2022-37436",
        "CVE-2023-25690",
        "CVE-2023-27522",
    ]
    older = [a for (adv, pkg), a in rows.items() if pkg == "apache2"]
    assert "2.4.52-1~deb11u2" in {a["fixed_version"] for a in older}
    # The fix at 2.4.51-1~deb11u1 is older than what is installed: not listed.
    assert "2.4.51-1~deb11u1" not in {a["fixed_version"] for a in older}
    xorg = rows[("DSA-5380-1", "xorg-server")]
    assert (xorg["fixed_version"], xorg["cves"]) == ("2:1.20.11-1+deb11u6", ["CVE-2023-1393"])


def test_unknown_builds_and_missing_devices(api: Api, viewer: dict[str, str]) -> None:
    device = _add_device(
        api,
        os_family="windows",
        os_name="Microsoft Windows 10 Pro",
        os_version=None,
        os_arch="64-bit",
    )
    page = api.client.get(f"/api/devices/{device}/missing-updates", headers=viewer).json()
    assert (page["status"], page["items"], page["updates_missing"]) == ("unknown", [], 0)
    assert "not known" in page["reason"]
    missing = api.client.get("/api/devices/nope/missing-updates", headers=viewer)
    assert missing.status_code == 404
    anonymous = api.client.get(f"/api/devices/{device}/missing-updates")
    assert anonymous.status_code == 401


def test_installed_hotfixes_cover_what_they_supersede(api: Api, viewer: dict[str, str]) -> None:
    FeedImporter(api.sessions()).run([shared_data("msrc_cvrf")])
    device = _add_device(
        api,
        hostname="win10-stale",
        os_family="windows",
        os_name="Microsoft Windows 10 Pro",
        os_version="10.0.19045",
        os_build="10.0.19045.3803",
        os_arch="64-bit",
    )
    url = f"/api/devices/{device}/missing-updates"
    before = api.client.get(url, headers=viewer).json()
    assert [i["kb"] for i in before["items"]] == ["KB5035845", "KB5034763", "KB5034122"]
    assert before["installed"] == {
        "5033372": "build 10.0.19045.3803 >= fixed build 10.0.19045.3803"
    }

    with transaction(api.sessions()) as session:
        session.add(Hotfix(device_id=device, hotfix_id="KB5034763", source="osquery"))
    after = api.client.get(url, headers=viewer).json()
    # February's update supersedes January's: only March is left.
    assert [i["kb"] for i in after["items"]] == ["KB5035845"]
    assert after["installed"]["5034122"] == "superseded by installed KB5034763"
