"""What a device's software was checked against, and exposure only where something was."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hostwatch.auth.roles import Role
from hostwatch.db.base import utcnow
from hostwatch.devices.models import Device
from tests.helpers import Api, enroll
from tests.shared import shared_data
from tests.vulns.conftest import osv_record, write_json


def _upload(api: Api, agent: dict[str, str], software: list[dict[str, Any]]) -> None:
    body = {
        "collected_at": utcnow().isoformat(),
        "host": {
            "hostname": "mixed-01",
            "os_family": "linux",
            "os_name": "Debian GNU/Linux 11 (bullseye)",
            "os_version": "11",
        },
        "software": software,
    }
    response = api.client.put("/api/agent/inventory", headers=agent, json=body)
    assert response.status_code == 200, response.text


OPENSSL = "1.1.1n-0+deb11u3"
SOFTWARE = [
    {"source": "dpkg", "name": "libssl1.1", "version": OPENSSL, "source_package": "openssl"},
    {"source": "dpkg", "name": "openssl", "version": OPENSSL, "source_package": "openssl"},
    {"source": "dpkg", "name": "bash", "version": "5.1-2+deb11u1"},
    {"source": "pip", "name": "Werkzeug", "version": "3.0.0"},
    {"source": "other", "name": "Some Program", "version": "1.0"},
]  # fmt: skip


def _coverage(api: Api, device_id: str, headers: dict[str, str]) -> dict[str, Any]:
    response = api.client.get(f"/api/devices/{device_id}/vulnerabilities/coverage", headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def _by_source(coverage: dict[str, Any]) -> dict[str, tuple[str, int, bool]]:
    return {g["source"]: (g["matched_by"], g["items"], g["checked"]) for g in coverage["groups"]}


def _exposure(api: Api, device_id: str) -> tuple[str | None, int | None]:
    with api.sessions()() as session:
        device = session.get(Device, device_id)
        assert device is not None
        return device.exposure_level, device.exposure_score


def test_coverage_follows_the_feeds_imported_and_exposure_waits_for_one(
    api: Api, hostwatch: Any, tmp_path: Path
) -> None:
    viewer = api.token_for("vera", Role.viewer)
    device_id, agent = enroll(api, "mixed-01")
    _upload(api, agent, SOFTWARE)

    nothing = _coverage(api, device_id, viewer)
    assert nothing["assessed"] is False
    assert _by_source(nothing) == {
        "dpkg": ("Debian:11", 3, False),
        "pip": ("PyPI", 1, False),
        "other": ("CPE", 1, False),
    }
    [dpkg] = [g for g in nothing["groups"] if g["source"] == "dpkg"]
    assert dpkg["reason"] == (
        "not checked: no advisories for Debian:11 imported (hostwatch feeds import or update)"
    )
    assert _exposure(api, device_id) == (None, None)

    # PyPI advisories only: the pip package is checked, the distribution's packages are not.
    result = hostwatch("feeds", "import", str(shared_data("osv_pypi", "vulns", "werkzeug")))
    assert result.exit_code == 0, result.output
    pypi = _coverage(api, device_id, viewer)
    assert pypi["assessed"] is True
    assert _by_source(pypi) == {
        "dpkg": ("Debian:11", 3, False),
        "pip": ("PyPI", 1, True),
        "other": ("CPE", 1, False),
    }
    level, score = _exposure(api, device_id)
    assert level is not None and score is not None and score > 0  # werkzeug 3.0.0 is affected

    # A Debian advisory for another release does not check this one's packages.
    feeds = tmp_path / "feeds"
    write_json(
        feeds / "deb12.json",
        osv_record("DSA-0000-1", "openssl", [{"introduced": "0"}], ecosystem="Debian:12"),
    )
    assert hostwatch("feeds", "import", str(feeds)).exit_code == 0
    assert _by_source(_coverage(api, device_id, viewer))["dpkg"][2] is False
    write_json(
        feeds / "deb11.json",
        osv_record("DSA-0000-2", "openssl", [{"introduced": "0"}], ecosystem="Debian:11"),
    )
    assert hostwatch("feeds", "import", str(feeds)).exit_code == 0
    assert _by_source(_coverage(api, device_id, viewer))["dpkg"] == ("Debian:11", 3, True)


def test_a_device_with_nothing_any_feed_covers_is_not_assessed(api: Api, hostwatch: Any) -> None:
    viewer = api.token_for("vera", Role.viewer)
    result = hostwatch("feeds", "import", str(shared_data("osv_pypi", "vulns", "werkzeug")))
    assert result.exit_code == 0, result.output
    device_id, agent = enroll(api, "debian-only")
    _upload(api, agent, SOFTWARE[:3])

    coverage = _coverage(api, device_id, viewer)
    assert coverage["assessed"] is False
    assert _exposure(api, device_id) == (None, None)


def test_coverage_of_an_unknown_device_is_404(api: Api) -> None:
    viewer = api.token_for("vera", Role.viewer)
    response = api.client.get("/api/devices/nope/vulnerabilities/coverage", headers=viewer)
    assert response.status_code == 404
    assert api.client.get("/api/devices/nope/vulnerabilities/coverage").status_code == 401
