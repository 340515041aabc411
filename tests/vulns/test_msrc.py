"""Microsoft's security update documents, and which of their updates a Windows device lacks.

Read from the four shared CVRF documents (December 2023 to March 2024). Expected KBs and
builds are Microsoft's published cumulative updates for those months.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from typing import Any

import pytest

from hostwatch.vulns import msrc
from hostwatch.vulns.missing_kbs import KnownUpdate, assess
from hostwatch.vulns.windows_products import WindowsBuild, msrc_product
from tests.shared import shared_data

WIN10 = "Windows 10 Version 22H2 for x64-based Systems"
WIN11 = "Windows 11 Version 23H2 for x64-based Systems"
SERVER = "Windows Server 2022"
CATALOG = "https://catalog.update.microsoft.com/v7/site/Search.aspx?q="

# Cumulative updates per product: (KB, month, fixed build).
WIN10_UPDATES = [
    ("5035845", "2024-Mar", "10.0.19045.4170"),
    ("5034763", "2024-Feb", "10.0.19045.4046"),
    ("5034122", "2024-Jan", "10.0.19045.3930"),
    ("5033372", "2023-Dec", "10.0.19045.3803"),
]
WIN11_UPDATES = [
    ("5035853", "2024-Mar", "10.0.22631.3296"),
    ("5034765", "2024-Feb", "10.0.22631.3155"),
    ("5034123", "2024-Jan", "10.0.22631.3007"),
    ("5033375", "2023-Dec", "10.0.22631.2861"),
]
SERVER_UPDATES = [
    ("5035857", "2024-Mar", "10.0.20348.2340"),
    ("5034770", "2024-Feb", "10.0.20348.2322"),
    ("5034129", "2024-Jan", "10.0.20348.2227"),
    ("5033118", "2023-Dec", "10.0.20348.2159"),
]


def known_updates(documents: Iterable[msrc.Document]) -> list[KnownUpdate]:
    """Every update of parsed documents, each with its month and the CVEs it fixes."""
    result: list[KnownUpdate] = []
    for document in documents:
        cves: dict[tuple[str, str], list[str]] = {}
        for cve in document.cves.values():
            for key in cve.fixes:
                cves.setdefault(key, []).append(cve.cve)
        for key, update in document.updates.items():
            result.append(
                KnownUpdate(
                    update,
                    document.document_id,
                    document.products[update.product_id],
                    tuple(sorted(cves.get(key, ()))),
                )
            )
    return result


@cache
def documents() -> tuple[msrc.Document, ...]:
    folder = shared_data("msrc_cvrf")
    return tuple(msrc.parse(path.read_bytes(), path.name) for path in sorted(folder.glob("*.xml")))


@cache
def known() -> tuple[KnownUpdate, ...]:
    return tuple(known_updates(documents()))


def missing(
    product: str | None, build: str | None, hotfixes: tuple[str, ...] = (), hotpatch: bool = False
) -> list[tuple[str, str, str]]:
    result = assess(product, WindowsBuild.parse(build), hotfixes, known(), hotpatch=hotpatch)
    assert result.status == "assessed", result.reason
    return [(m.kb, m.month, m.fixed_build) for m in result.missing]


def test_documents_parse_with_their_products_cves_and_updates() -> None:
    by_month = {d.document_id: d for d in documents()}
    assert sorted(by_month) == ["2023-Dec", "2024-Feb", "2024-Jan", "2024-Mar"]
    feb = by_month["2024-Feb"]
    assert feb.title == "February 2024 Security Updates"
    assert feb.released is not None and feb.released.isoformat() == "2024-02-13T08:00:00+00:00"
    assert WIN10 in feb.products.values()
    # CVE-2024-21351 (SmartScreen security feature bypass) was exploited in February 2024.
    smartscreen = feb.cves["CVE-2024-21351"]
    assert smartscreen.exploited and not smartscreen.publicly_disclosed
    product = next(pid for pid, name in feb.products.items() if name == WIN10)
    assert ("5034763", product) in smartscreen.fixes
    update = feb.updates[("5034763", product)]
    assert update.fixed_build == "10.0.19045.4046"
    assert update.supersedes == ("5034122",)
    assert update.restart_required == "Yes"
    assert update.sub_type == "Security Update"
    assert update.url == "https://catalog.update.microsoft.com/v7/site/Search.aspx?q=KB5034763"
    assert smartscreen.vectors[product].startswith("CVSS:3.1/AV:N/")
    assert smartscreen.severities[product] == "Moderate"
    exploited = sorted(c.cve for c in feb.cves.values() if c.exploited)
    assert exploited == ["CVE-2024-21338", "CVE-2024-21351", "CVE-2024-21410", "CVE-2024-21412"]


def test_each_cumulative_update_lists_the_cves_it_fixes() -> None:
    march = next(k for k in known() if k.product == WIN10 and k.update.kb == "5035845")
    assert march.month == "2024-Mar"
    assert len(march.cves) == len(set(march.cves)) > 20
    # Counted straight from the XML: every vulnerability whose Vendor Fix names the KB and
    # the product.
    text = shared_data("msrc_cvrf", "cvrfDocument-2024-Mar.xml").read_text(encoding="utf-8")
    product = next(pid for pid, name in documents()[3].products.items() if name == WIN10)
    count = 0
    for block in text.split("<vuln:Vulnerability ")[1:]:
        for remediation in block.split('<vuln:Remediation Type="Vendor Fix">')[1:]:
            body = remediation.split("</vuln:Remediation>")[0]
            if "<vuln:Description>5035845<" in body and f">{product}<" in body:
                count += 1
                break
    assert len(march.cves) == count


def test_windows_10_before_december_misses_four_cumulative_updates_newest_first() -> None:
    assert missing(WIN10, "10.0.19045.3693") == WIN10_UPDATES


def test_a_device_on_the_february_build_misses_only_march() -> None:
    assert missing(WIN10, "10.0.19045.4046") == WIN10_UPDATES[:1]
    assert missing(WIN10, "10.0.19045.4045") == WIN10_UPDATES[:2]
    assert missing(WIN10, "10.0.19045.4170") == []


def test_march_installed_with_a_stale_build_misses_nothing_march_supersedes() -> None:
    result = assess(WIN10, WindowsBuild.parse("10.0.19045.3693"), ["KB5035845"], known())
    assert result.missing == []
    assert result.covered == {
        "5035845": "hotfix KB5035845",
        "5034763": "superseded by installed KB5035845",
        "5034122": "superseded by installed KB5035845",
        "5033372": "superseded by installed KB5035845",
    }
    # January installed on the same stale build: February and March are still missing.
    assert missing(WIN10, "10.0.19045.3693", ("5034122",)) == WIN10_UPDATES[:2]


def test_windows_11_and_server_2022_against_the_same_documents() -> None:
    assert missing(WIN11, "10.0.22631.2715") == WIN11_UPDATES
    assert missing(WIN11, "10.0.22631.3155") == WIN11_UPDATES[:1]
    assert missing(SERVER, "10.0.20348.2113") == SERVER_UPDATES
    # Hotpatch updates count only on a device enrolled in hotpatching.
    hotpatched = missing(SERVER, "10.0.20348.2113", hotpatch=True)
    assert ("5035959", "2024-Mar", "10.0.20348.2333") in hotpatched
    assert ("5033464", "2023-Dec", "10.0.20348.2144") in hotpatched


def test_an_unknown_build_or_product_is_unknown_not_missing_everything() -> None:
    no_build = assess(WIN10, None, [], known())
    assert (no_build.status, no_build.missing) == ("unknown", [])
    no_revision = assess(WIN10, WindowsBuild.parse("10.0.19045"), [], known())
    assert no_revision.status == "unknown"
    no_product = assess(None, WindowsBuild.parse("10.0.19045.3693"), [], known())
    assert no_product.status == "unknown"


@pytest.mark.parametrize(
    ("name", "version", "arch", "core", "expected"),
    [
        ("Microsoft Windows 10 Pro", "10.0.19045.3803", "64-bit", False, WIN10),
        (
            "Microsoft Windows 10 Enterprise",
            "10.0.19044.3803",
            "AMD64",
            False,
            "Windows 10 Version 21H2 for x64-based Systems",
        ),
        (
            "Microsoft Windows 10 Home",
            "10.0.19045",
            "32-bit",
            False,
            "Windows 10 Version 22H2 for 32-bit Systems",
        ),
        (
            "Microsoft Windows 11 Pro",
            "10.0.22631.3007",
            "ARM 64-bit Processor",
            False,
            "Windows 11 Version 23H2 for ARM64-based Systems",
        ),
        (
            "Microsoft Windows 11 Enterprise",
            "10.0.22000.2713",
            "x86_64",
            False,
            "Windows 11 version 21H2 for x64-based Systems",
        ),
        ("Microsoft Windows Server 2022 Datacenter", "10.0.20348.2227", "64-bit", False, SERVER),
        (
            "Microsoft Windows Server 2022 Standard",
            "10.0.20348.2227",
            "64-bit",
            True,
            "Windows Server 2022 (Server Core installation)",
        ),
        (
            "Microsoft Windows Server 2019 Standard",
            "10.0.17763.5329",
            "64-bit",
            False,
            "Windows Server 2019",
        ),
        # Unknown: a build this table does not know, no build, not Windows, 32-bit Windows 11.
        ("Microsoft Windows 11 Pro", "10.0.26100.1", "64-bit", False, None),
        ("Microsoft Windows 10 Pro", "", "64-bit", False, None),
        ("Debian GNU/Linux", "11", "x86_64", False, None),
        ("Microsoft Windows 11 Pro", "10.0.22631.3007", "32-bit", False, None),
        ("Microsoft Windows 10 Pro", "10.0.19045.3803", "", False, None),
    ],
)
def test_device_facts_map_to_the_product_names_of_the_documents(
    name: str, version: str, arch: str, core: bool, expected: str | None
) -> None:
    product = msrc_product(name, version, arch, server_core=core)
    assert product == expected
    if expected is not None:
        assert any(expected in d.products.values() for d in documents())


def test_builds_order_by_revision_numerically() -> None:
    low, high = WindowsBuild.parse("10.0.19045.999"), WindowsBuild.parse("10.0.19045.3803")
    assert low is not None and high is not None and low.key() < high.key()
    split = WindowsBuild.parse("10.0.19045", revision="3803")
    assert split is not None and str(split) == "10.0.19045.3803"
    assert WindowsBuild.parse("10.0.19045.x") is None


def json_document() -> dict[str, Any]:
    """March 2024's Hyper-V CVE in Microsoft's JSON form, its release notes long, as theirs
    are, so that the product tree comes thousands of bytes into the file."""
    return {
        "DocumentTitle": {"Value": "March 2024 Security Updates"},
        "DocumentTracking": {
            "Identification": {"ID": {"Value": "2024-Mar"}},
            "InitialReleaseDate": "2024-03-12T07:00:00Z",
            "CurrentReleaseDate": "2024-03-12T07:00:00Z",
        },
        "DocumentNotes": [{"Title": "Release Notes", "Type": 1, "Value": "<p>notes</p>" * 1000}],
        "ProductTree": {"FullProductName": [{"ProductID": "12097", "Value": WIN10}]},
        "Vulnerability": [
            {
                "CVE": "CVE-2024-21407",
                "Title": {"Value": "Windows Hyper-V Remote Code Execution Vulnerability"},
                "Threats": [
                    {
                        "Type": 1,
                        "Description": {"Value": "Publicly Disclosed:No;Exploited:Yes"},
                        "ProductID": [],
                    },
                    {"Type": 3, "Description": {"Value": "Critical"}, "ProductID": ["12097"]},
                ],
                "CVSSScoreSets": [
                    {
                        "BaseScore": 8.1,
                        "Vector": "CVSS:3.1/AV:N/AC:H/PR:L/UI:R/S:C/C:H/I:H/A:H",
                        "ProductID": ["12097"],
                    }
                ],
                "Remediations": [
                    {
                        "Type": 2,
                        "Description": {"Value": "5035845"},
                        "URL": CATALOG + "KB5035845",
                        "Supercedence": "5034763",
                        "ProductID": ["12097"],
                        "RestartRequired": {"Value": "Yes"},
                        "SubType": "Security Update",
                        "FixedBuild": "10.0.19045.4170",
                    },
                    {"Type": 5, "Description": {"Value": "5035845"}, "ProductID": ["12097"]},
                ],
            }
        ],
    }


def test_the_json_form_reads_like_the_xml() -> None:
    data = json.dumps(json_document()).encode()
    assert data.index(b'"ProductTree"') > 4096
    assert msrc.is_cvrf(data[:4096])
    parsed = msrc.parse(data, "2024-Mar.json")
    cve = parsed.cves["CVE-2024-21407"]
    assert cve.exploited and cve.severities == {"12097": "Critical"}
    update = parsed.updates[("5035845", "12097")]
    assert (update.fixed_build, update.supersedes, update.restart_required) == (
        "10.0.19045.4170",
        ("5034763",),
        "Yes",
    )
    assert list(parsed.updates) == [("5035845", "12097")]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<html><body>not found</body></html>", "not a CVRF 1.1 cvrfdoc"),
        (b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'aaaa'>]><x>&a;</x>", "DTD"),
        (b"<cvrf:cvrfdoc xmlns:cvrf='http://www.icasi.org/CVRF/schema/cvrf/1.1'>", "readable"),
        (b'{"DocumentTracking": {"Identification": {"ID": {"Value": "March"}}}}', "2024-Feb"),
        (b'{"Vulnerability": []}', "DocumentTracking"),
        (b"[1, 2", "readable"),
    ],
)
def test_bad_documents_are_refused_with_the_file_named(data: bytes, message: str) -> None:
    with pytest.raises(msrc.MsrcError) as caught:
        msrc.parse(data, "bad-2024-Mar.xml")
    assert "bad-2024-Mar.xml" in str(caught.value)
    assert message in str(caught.value)
