"""CVSS scores computed from real NVD and OSV vectors, and the rule that picks one."""

from __future__ import annotations

import copy
import gzip
import json
import logging
from functools import cache
from typing import Any

import pytest

from hostwatch.vulns import cvss
from tests.shared import shared_data

_FILES = tuple(sorted(p.name for p in shared_data("nvd_cve").glob("*.json.gz")))
_METRIC_VERSIONS = {"cvssMetricV2": "2.0", "cvssMetricV30": "3.0", "cvssMetricV31": "3.1"}


@cache
def _nvd(name: str) -> dict[str, dict[str, Any]]:
    with gzip.open(shared_data("nvd_cve", name)) as handle:
        doc = json.load(handle)
    return {item["cve"]["id"]: item["cve"] for item in doc["vulnerabilities"]}


def _record(cve_id: str) -> dict[str, Any]:
    for name in _FILES:
        found = _nvd(name).get(cve_id)
        if found is not None:
            return {"metrics": copy.deepcopy(found["metrics"])}
    raise LookupError(cve_id)


def test_score_matches_every_stated_nvd_score_in_the_shared_files() -> None:
    checked = 0
    for name in _FILES:
        for cve_id, cve in _nvd(name).items():
            for key, entries in cve["metrics"].items():
                for entry in entries:
                    data = entry["cvssData"]
                    result = cvss.score(data["vectorString"])
                    assert (cve_id, result.base_score) == (cve_id, data["baseScore"])
                    assert result.version == _METRIC_VERSIONS[key]
                    checked += 1
    # The shared files hold thousands of v2 vectors and about a thousand v3 ones.
    assert checked > 5_000


@pytest.mark.parametrize(
    ("vector", "version", "base", "severity"),
    [
        ("AV:N/AC:M/Au:N/C:P/I:N/A:N", "2.0", 4.3, "medium"),  # CVE-2002-2435
        ("AV:N/AC:M/Au:N/C:C/I:C/A:C", "2.0", 9.3, "high"),  # CVE-2009-0551 (v2 has no critical)
        ("CVSS:3.0/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N", "3.0", 5.9, "medium"),  # CVE-2005-4900
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H", "3.1", 8.8, "high"),  # CVE-2024-7535
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", "3.1", 0.0, "none"),
        # The v4.0 specification's example of a network attack needing nothing, high impact.
        ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", "4.0", 9.3, "critical"),
    ],
)
def test_score_computes_version_score_and_severity(
    vector: str, version: str, base: float, severity: str
) -> None:
    result = cvss.score(vector)

    assert (result.version, result.base_score, result.severity) == (version, base, severity)


@pytest.mark.parametrize(
    "vector",
    [
        "",
        "CVSS:3.1/AV:N",
        "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        "AV:N/AC:Q",
        "CVSS:9.9/AV:N",
    ],
)
def test_score_refuses_a_malformed_vector(vector: str) -> None:
    with pytest.raises(cvss.VectorError):
        cvss.score(vector)


def test_primary_score_prefers_nvd_primary_over_a_newer_secondary_version() -> None:
    # CVE-2009-0551: a CNA's v3.1 (8.1, Secondary) beside NVD's own v2 (9.3, Primary).
    advisories = [("nvd", "CVE-2009-0551", _record("CVE-2009-0551"))]

    result, rejected = cvss.primary_score(advisories)

    assert result is not None and rejected == []
    assert (result.version, result.base_score, result.vector) == (
        "2.0",
        9.3,
        "AV:N/AC:M/Au:N/C:C/I:C/A:C",
    )


def test_primary_score_prefers_v3_to_v2_within_nvd_primary() -> None:
    result, _ = cvss.primary_score([("nvd", "CVE-2005-4900", _record("CVE-2005-4900"))])

    assert result is not None
    assert (result.version, result.base_score) == ("3.0", 5.9)


def test_primary_score_uses_the_computed_score_and_warns_when_the_feed_states_another(
    caplog: pytest.LogCaptureFixture,
) -> None:
    data = _record("CVE-2005-4900")
    data["metrics"]["cvssMetricV30"][0]["cvssData"]["baseScore"] = 9.9

    with caplog.at_level(logging.WARNING, logger="hostwatch.vulns.cvss"):
        result, _ = cvss.primary_score([("nvd", "CVE-2005-4900", data)])

    assert result is not None and result.base_score == 5.9
    assert "CVE-2005-4900" in caplog.text and "9.9" in caplog.text and "5.9" in caplog.text


def test_primary_score_reports_a_malformed_vector_and_takes_the_next(
    caplog: pytest.LogCaptureFixture,
) -> None:
    data = _record("CVE-2005-4900")
    data["metrics"]["cvssMetricV30"][0]["cvssData"]["vectorString"] = "CVSS:3.0/AV:Z/AC:H"

    with caplog.at_level(logging.WARNING, logger="hostwatch.vulns.cvss"):
        result, rejected = cvss.primary_score([("nvd", "CVE-2005-4900", data)])

    assert rejected == [cvss.Rejected("CVE-2005-4900", "CVSS:3.0/AV:Z/AC:H", rejected[0].reason)]
    assert "AV:Z" in rejected[0].reason
    assert result is not None and (result.version, result.base_score) == ("2.0", 4.3)
    assert "CVE-2005-4900" in caplog.text and "CVSS:3.0/AV:Z/AC:H" in caplog.text


def test_primary_score_is_none_when_every_vector_is_malformed() -> None:
    osv = {"severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/nonsense"}]}

    result, rejected = cvss.primary_score([("osv", "PYSEC-0000-1", osv)])

    assert result is None
    assert [(r.advisory, r.vector) for r in rejected] == [("PYSEC-0000-1", "CVSS:3.1/nonsense")]


def test_primary_score_takes_nvd_before_osv_and_osv_v3_before_v4() -> None:
    osv = {
        "severity": [
            {
                "type": "CVSS_V4",
                "score": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
            },
            {"type": "CVSS_V3", "score": "CVSS:3.1/AV:L/AC:L/PR:L/UI:R/S:U/C:L/I:N/A:N"},
        ]
    }

    only_osv, _ = cvss.primary_score([("osv", "GHSA-x", osv)])
    with_nvd, _ = cvss.primary_score(
        [("osv", "GHSA-x", osv), ("nvd", "CVE-2002-2435", _record("CVE-2002-2435"))]
    )

    assert only_osv is not None and (only_osv.version, only_osv.base_score) == ("3.1", 2.8)
    assert with_nvd is not None and (with_nvd.version, with_nvd.base_score) == ("2.0", 4.3)


def test_primary_score_reads_a_shared_osv_pypi_record() -> None:
    import yaml

    path = shared_data("osv_pypi", "vulns", "werkzeug", "PYSEC-2023-221.yaml")
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    vector = doc["severity"][0]["score"]

    result, _ = cvss.primary_score([("osv", doc["id"], doc)])

    assert result is not None and result.vector == vector
    assert result.base_score == cvss.score(vector).base_score
