"""The recommendations API: list with paging and filters, detail, exceptions, roles, audit."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from hostwatch.auth.models import AuditEntry
from hostwatch.auth.roles import Role
from hostwatch.db.base import utcnow
from hostwatch.db.engine import transaction
from hostwatch.devices.models import Software
from hostwatch.vulns.recommendation_model import Recommendation
from tests.helpers import Api
from tests.vulns.conftest import add_device, osv_record
from tests.vulns.test_recommendations import import_feeds, refresh


def _setup(api: Api, hostwatch: Any, tmp_path: Path) -> tuple[str, dict[str, int]]:
    events = [{"introduced": "0"}, {"fixed": "2.0.1"}]
    import_feeds(
        hostwatch,
        tmp_path / "feeds",
        {
            "a.json": osv_record("OSV-A", "demo-pkg", events, aliases=["CVE-2099-1"]),
            "b.json": osv_record(
                "OSV-B",
                "demo-pkg",
                [{"introduced": "0"}, {"fixed": "2.1.0"}],
                aliases=["CVE-2099-2"],
            ),
            "c.json": osv_record("OSV-C", "other-pkg", events, aliases=["CVE-2099-3"]),
            "d.json": osv_record("OSV-D", "third-pkg", events, aliases=["CVE-2099-4"]),
        },
    )
    sessions = api.sessions()
    device_id, ids = add_device(
        sessions,
        [
            {"source": "pip", "name": "demo-pkg", "version": "1.5", "install_path": "/opt/a b"},
            {"source": "pip", "name": "other-pkg", "version": "1.0"},
            {"source": "pip", "name": "third-pkg", "version": "1.0"},
        ],
    )
    refresh(sessions, device_id)
    return device_id, ids


def _ids(api: Api, device_id: str, headers: dict[str, str], **params: Any) -> dict[str, int]:
    response = api.client.get(
        f"/api/devices/{device_id}/recommendations", params=params, headers=headers
    )
    assert response.status_code == 200, response.text
    return {item["title"]: item["id"] for item in response.json()["items"]}


def test_list_pages_sorts_and_picks_fields(api: Api, hostwatch: Any, tmp_path: Path) -> None:
    device_id, _ = _setup(api, hostwatch, tmp_path)
    viewer = api.token_for("viewer", Role.viewer)
    url = f"/api/devices/{device_id}/recommendations"

    first = api.client.get(url, params={"limit": 2, "sort": "title"}, headers=viewer).json()
    second = api.client.get(
        url, params={"limit": 2, "sort": "title", "cursor": first["next_cursor"]}, headers=viewer
    ).json()
    slim = api.client.get(
        url, params={"fields": "title,weakness_count", "sort": "-weakness_count"}, headers=viewer
    ).json()
    full = api.client.get(url, params={"sort": "-weakness_count"}, headers=viewer).json()

    assert first["total"] == 3
    assert [i["title"] for i in first["items"]] == [
        "Update demo-pkg to 2.1.0",
        "Update other-pkg to 2.0.1",
    ]
    assert [i["title"] for i in second["items"]] == ["Update third-pkg to 2.0.1"]
    assert second["next_cursor"] is None
    assert slim["items"][0] == {
        "id": slim["items"][0]["id"],
        "title": "Update demo-pkg to 2.1.0",
        "weakness_count": 2,
    }
    top = full["items"][0]
    assert top["weaknesses"] == ["CVE-2099-1", "CVE-2099-2"]
    assert top["installed_versions"] == ["1.5"]
    assert (top["component"], top["status"], top["threats"]) == ("demo-pkg", "active", [])
    # Four findings at 0.15 each: 1 - 0.85^4 = 0.478 -> 48; without demo-pkg 1 - 0.85^2 -> 28.
    assert top["exposure_reduction"] == 20


def test_detail_tells_how_to_apply(api: Api, hostwatch: Any, tmp_path: Path) -> None:
    device_id, ids = _setup(api, hostwatch, tmp_path)
    viewer = api.token_for("viewer", Role.viewer)
    rec_id = _ids(api, device_id, viewer)["Update demo-pkg to 2.1.0"]

    detail = api.client.get(f"/api/recommendations/{rec_id}", headers=viewer).json()

    assert detail["device_id"] == device_id
    assert detail["fixed_version"] == "2.1.0"
    assert detail["installed_versions"] == ["1.5"]
    assert detail["components"] == [
        {
            "software_id": ids["demo-pkg"],
            "name": "demo-pkg",
            "version": "1.5",
            "arch": None,
            "install_path": "/opt/a b",
        }
    ]
    assert [(w["key"], w["fixed_version"]) for w in detail["weaknesses"]] == [
        ("CVE-2099-1", "2.0.1"),
        ("CVE-2099-2", "2.1.0"),
    ]
    assert detail["how_to_apply"][0] == "In /opt/a b: python -m pip install 'demo-pkg>=2.1.0'"
    assert detail["exception"] is None


def test_exception_hides_from_active_and_expiry_returns_it(
    api: Api, hostwatch: Any, tmp_path: Path
) -> None:
    device_id, _ = _setup(api, hostwatch, tmp_path)
    analyst = api.token_for("analyst", Role.analyst)
    rec_id = _ids(api, device_id, analyst)["Update demo-pkg to 2.1.0"]
    expires = (utcnow() + timedelta(days=30)).isoformat()

    patched = api.client.patch(
        f"/api/recommendations/{rec_id}",
        json={"status": "exception", "justification": "vendor pins 1.5", "expires_at": expires},
        headers=analyst,
    )
    active = _ids(api, device_id, analyst, status="active")
    excepted = _ids(api, device_id, analyst, status="exception")
    sidebar = api.client.get(f"/api/devices/{device_id}", headers=analyst).json()["security"]
    with transaction(api.sessions()) as session:
        session.execute(
            update(Recommendation)
            .where(Recommendation.id == rec_id)
            .values(exception_expires=utcnow() - timedelta(seconds=1))
        )
    lapsed = _ids(api, device_id, analyst, status="active")
    lapsed_detail = api.client.get(f"/api/recommendations/{rec_id}", headers=analyst).json()
    with api.sessions()() as session:
        audit = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "recommendation.update")
        ).one()

    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["status"] == "exception"
    assert body["exception"]["justification"] == "vendor pins 1.5"
    assert body["exception"]["created_by"] == "analyst"
    assert sorted(active) == ["Update other-pkg to 2.0.1", "Update third-pkg to 2.0.1"]
    assert list(excepted) == ["Update demo-pkg to 2.1.0"]
    # demo-pkg's two findings left the score: 1 - 0.85^2 = 0.2775.
    assert (sidebar["exposure_score"], sidebar["exposure"]["excepted"]) == (28, 2)
    assert "Update demo-pkg to 2.1.0" in lapsed
    assert lapsed_detail["status"] == "active"
    assert lapsed_detail["exception"]["expired"] is True
    assert audit.target == str(rec_id)
    assert audit.actor == "analyst"
    assert audit.detail["changes"]["status"] == ["active", "exception"]
    assert audit.detail["changes"]["justification"] == [None, "vendor pins 1.5"]


def test_reactivate_puts_it_back_in_the_score(api: Api, hostwatch: Any, tmp_path: Path) -> None:
    device_id, _ = _setup(api, hostwatch, tmp_path)
    analyst = api.token_for("analyst", Role.analyst)
    rec_id = _ids(api, device_id, analyst)["Update demo-pkg to 2.1.0"]
    url = f"/api/recommendations/{rec_id}"
    api.client.patch(url, json={"status": "exception", "justification": "x"}, headers=analyst)

    back = api.client.patch(url, json={"status": "active"}, headers=analyst)
    sidebar = api.client.get(f"/api/devices/{device_id}", headers=analyst).json()["security"]

    assert back.status_code == 200
    assert (back.json()["status"], back.json()["exception"]) == ("active", None)
    assert (sidebar["exposure_score"], sidebar["exposure_level"]) == (48, "medium")


def test_patch_refuses_bad_requests_and_viewers(api: Api, hostwatch: Any, tmp_path: Path) -> None:
    device_id, ids = _setup(api, hostwatch, tmp_path)
    viewer = api.token_for("viewer", Role.viewer)
    analyst = api.token_for("analyst", Role.analyst)
    rec_id = _ids(api, device_id, analyst)["Update demo-pkg to 2.1.0"]
    url = f"/api/recommendations/{rec_id}"
    past = (utcnow() - timedelta(days=1)).isoformat()

    as_viewer = api.client.patch(
        url, json={"status": "exception", "justification": "x"}, headers=viewer
    )
    no_reason = api.client.patch(url, json={"status": "exception"}, headers=analyst)
    in_past = api.client.patch(
        url, json={"status": "exception", "justification": "x", "expires_at": past}, headers=analyst
    )
    to_resolved = api.client.patch(url, json={"status": "resolved"}, headers=analyst)
    missing = api.client.patch(
        "/api/recommendations/999999", json={"status": "active"}, headers=analyst
    )
    anonymous = api.client.get(f"/api/devices/{device_id}/recommendations")
    with transaction(api.sessions()) as session:
        session.execute(update(Software).where(Software.id == ids["demo-pkg"]).values(version="3"))
    refresh(api.sessions(), device_id)
    resolved = api.client.patch(url, json={"status": "active"}, headers=analyst)

    assert as_viewer.status_code == 403
    assert no_reason.status_code == 422
    assert "justification" in no_reason.text
    assert in_past.status_code == 422
    assert "expires_at" in in_past.text
    assert to_resolved.status_code == 422
    assert missing.status_code == 404
    assert anonymous.status_code == 401
    assert resolved.status_code == 422
    assert "resolved" in resolved.text
    assert api.client.get(url, headers=viewer).json()["status"] == "resolved"
