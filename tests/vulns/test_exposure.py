"""The exposure score: its formula, its bounds, and the sidebar and device list that show it."""

from __future__ import annotations

import itertools
import random
from pathlib import Path
from typing import Any

from hostwatch.auth.roles import Role
from hostwatch.vulns import exposure
from tests.helpers import Api
from tests.vulns.conftest import add_device, osv_record
from tests.vulns.test_recommendations import CRITICAL, import_feeds, kev_catalog, refresh


def test_score_of_known_cases() -> None:
    critical = exposure.likelihood(9.8, exploited=False)
    exploited = exposure.likelihood(9.8, exploited=True)
    unscored = exposure.likelihood(None, exploited=False)

    assert exposure.score_of([]) == 0
    assert exposure.score_of([critical]) == 58
    assert exposure.score_of([exploited]) == 96
    assert exposure.score_of([unscored] * 10) == 80
    assert exposure.score_of([exposure.likelihood(10.0, exploited=True)]) == 100
    assert [exposure.level_of(s) for s in (0, 29, 30, 69, 70, 100)] == [
        "low",
        "low",
        "medium",
        "medium",
        "high",
        "high",
    ]


def test_score_is_monotonic_and_bounded() -> None:
    chooser = random.Random(7)
    for _ in range(500):
        findings = [
            (chooser.choice([None, 0.0, 3.1, 5.0, 7.5, 9.8, 10.0]), chooser.random() < 0.2)
            for _ in range(chooser.randint(0, 30))
        ]
        base = exposure.score_of(exposure.likelihood(c, k) for c, k in findings)
        extra = exposure.score_of(
            exposure.likelihood(c, k) for c, k in [*findings, (chooser.choice([1.0, 9.9]), False)]
        )
        as_kev = exposure.score_of(exposure.likelihood(c, True) for c, _ in findings)
        assert 0 <= base <= extra <= 100
        assert base <= as_kev <= 100
    for low, high in itertools.pairwise([0.0, 2.0, 5.0, 7.5, 9.8, 10.0]):
        assert exposure.likelihood(low, False) <= exposure.likelihood(high, False)


def _device(api: Api, hostwatch: Any, tmp_path: Path) -> str:
    import_feeds(
        hostwatch,
        tmp_path / "feeds",
        {
            "f.json": osv_record(
                "OSV-F",
                "kev-pkg",
                [{"introduced": "0"}, {"fixed": "3.0"}],
                aliases=["CVE-2099-6"],
                severity=[{"type": "CVSS_V3", "score": CRITICAL}],
            ),
            "g.json": osv_record(
                "OSV-G",
                "plain-pkg",
                [{"introduced": "0"}, {"fixed": "1.1"}],
                aliases=["CVE-2099-7"],
            ),
            "kev.json": kev_catalog(("CVE-2099-6", "Unknown")),
        },
    )
    device_id, _ = add_device(
        api.sessions(),
        [
            {"source": "pip", "name": "kev-pkg", "version": "2.9"},
            {"source": "pip", "name": "plain-pkg", "version": "1.0"},
            # No version: an unknown finding, shown apart and not scored.
            {"source": "pip", "name": "plain_pkg", "version": ""},
        ],
    )
    refresh(api.sessions(), device_id)
    return device_id


def test_sidebar_shows_the_score_with_its_drivers(api: Api, hostwatch: Any, tmp_path: Path) -> None:
    device_id = _device(api, hostwatch, tmp_path)
    viewer = api.token_for("viewer", Role.viewer)

    security = api.client.get(f"/api/devices/{device_id}", headers=viewer).json()["security"]

    # 1 - (1 - 0.9604) * (1 - 0.15) = 0.96634
    assert (security["exposure_level"], security["exposure_score"]) == ("high", 97)
    info = security["exposure"]
    assert (info["counted"], info["exploited"], info["unknown"], info["excepted"]) == (2, 1, 1, 0)
    assert info["active_recommendations"] == 2
    assert info["drivers"] == [
        {
            "vulnerability": "CVE-2099-6",
            "software": "kev-pkg",
            "version": "2.9",
            "cvss": 9.8,
            "exploited": True,
            "ransomware": False,
            "weight": 0.9604,
        },
        {
            "vulnerability": "CVE-2099-7",
            "software": "plain-pkg",
            "version": "1.0",
            "cvss": None,
            "exploited": False,
            "ransomware": False,
            "weight": 0.15,
        },
    ]


def test_device_list_filters_and_shows_exposure(api: Api, hostwatch: Any, tmp_path: Path) -> None:
    device_id = _device(api, hostwatch, tmp_path)
    unrated, _ = add_device(api.sessions(), [])
    viewer = api.token_for("viewer", Role.viewer)

    high = api.client.get("/api/devices", params={"exposure": "high"}, headers=viewer).json()
    low = api.client.get("/api/devices", params={"exposure": "low"}, headers=viewer).json()
    every = api.client.get("/api/devices", headers=viewer).json()

    assert [(d["id"], d["exposure_level"], d["exposure_score"]) for d in high["items"]] == [
        (device_id, "high", 97)
    ]
    assert low["items"] == []
    by_id = {d["id"]: d for d in every["items"]}
    assert (by_id[unrated]["exposure_level"], by_id[unrated]["exposure_score"]) == (None, None)
    sidebar = api.client.get(f"/api/devices/{unrated}", headers=viewer).json()["security"]
    assert (sidebar["exposure_level"], sidebar["exposure"]) == (None, None)


def test_a_device_is_not_assessed_until_a_feed_is_imported(
    sessions: Any, hostwatch: Any, tmp_path: Path
) -> None:
    from hostwatch.devices.models import Device

    device_id, _ = add_device(sessions, [{"source": "pip", "name": "unrelated", "version": "1.0"}])
    refresh(sessions, device_id)
    with sessions() as session:
        device = session.get(Device, device_id)
        assert (device.exposure_level, device.exposure_score) == (None, None)

    # An advisory of another package: the device is now assessed, and low.
    import_feeds(
        hostwatch,
        tmp_path / "feeds",
        {"a.json": osv_record("PYSEC-2099-9", "other", [{"introduced": "0"}, {"fixed": "2"}])},
    )
    refresh(sessions, device_id)
    with sessions() as session:
        device = session.get(Device, device_id)
        assert (device.exposure_level, device.exposure_score) == ("low", 0)
