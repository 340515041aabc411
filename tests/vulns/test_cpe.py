"""NVD applicability on real records: AND configurations, excluding and including ends,
Java updates, unknown versions; and the Windows program names table."""

from __future__ import annotations

import random
from typing import Any

import pytest

from hostwatch.vulns import cpe, products
from hostwatch.vulns.packages import DeviceRelease
from hostwatch.vulns.records import FeedRecord
from hostwatch.vulns.sources import FeedInput, parse_input
from tests.shared import shared_data
from tests.vulns import cpe_reference

WINDOWS_10 = DeviceRelease("windows", "Microsoft Windows 10 Pro", "10.0.19045.3803")
DEBIAN_11 = DeviceRelease("linux", "Debian GNU/Linux 11 (bullseye)", "11")


def _nvd(year: str, cve_id: str) -> FeedRecord:
    path = shared_data("nvd_cve", f"nvdcve-2.0-desktop-CVE-{year}.json.gz")
    _, records = parse_input(FeedInput(str(path), path))
    return next(r for r in records if isinstance(r, FeedRecord) and r.record_id == cve_id)


def _hits(record: FeedRecord, release: DeviceRelease, *programs: tuple[str, str]) -> list[Any]:
    installed = []
    for number, (name, version) in enumerate(programs, start=1):
        mapping = products.map_program(name, None, version, software_id=number)
        assert mapping is not None, name
        installed.extend(mapping.products)
    found = cpe.evaluate(record.configurations or [], installed + products.os_products(release))
    return [(h.product.software_id, h.truth, h.entry["criteria"]) for h in found]


def test_excluding_end_on_an_and_configuration_needs_its_platform() -> None:
    # Chrome before 5.0.375.70, only on Linux.
    record = _nvd("2010", "CVE-2010-2298")
    criteria = "cpe:2.3:a:google:chrome:*:*:*:*:*:*:*:*"

    assert _hits(record, DEBIAN_11, ("Google Chrome", "5.0.375.69")) == [(1, True, criteria)]
    assert _hits(record, DEBIAN_11, ("Google Chrome", "5.0.375.70")) == []
    assert _hits(record, WINDOWS_10, ("Google Chrome", "5.0.375.69")) == []


def test_including_end_matches_the_end_itself() -> None:
    record = _nvd("2009", "CVE-2009-2044")  # Firefox up to and including 3.0.10, on Linux

    assert _hits(record, DEBIAN_11, ("Mozilla Firefox (x86 en-US)", "3.0.10"))[0][1] is True
    assert _hits(record, DEBIAN_11, ("Mozilla Firefox (x86 en-US)", "3.0.11")) == []


def test_or_configuration_matches_each_product_by_its_own_range() -> None:
    record = _nvd("2024", "CVE-2024-0755")  # Firefox < 122, ESR < 115.7, Thunderbird < 115.7

    hits = _hits(
        record,
        WINDOWS_10,
        ("Mozilla Firefox (x64 en-US)", "121.0.1"),
        ("Mozilla Thunderbird (x64 en-US)", "115.7.0"),
        ("Mozilla Firefox ESR (x64 en-US)", "115.6.0"),
    )

    assert sorted((h[0], h[1]) for h in hits) == [(1, True), (3, True)]


def test_missing_version_is_unknown_never_all_versions() -> None:
    record = _nvd("2024", "CVE-2024-0755")
    product = cpe.Product("a", "mozilla", "firefox", None, software_id=1)

    found = cpe.evaluate(record.configurations or [], [product])

    assert [(h.truth, h.reason) for h in found] == [(None, "the installed product has no version")]


def test_java_update_must_be_the_listed_one() -> None:
    entry = {"vulnerable": True, "criteria": "cpe:2.3:a:oracle:jre:1.8.0:update_25:*:*:*:*:*:*"}
    java = products.map_program("Java 8 Update 25 (64-bit)", "Oracle Corporation", "8.0.250")
    newer = products.map_program("Java 8 Update 391", "Oracle Corporation", "8.0.3910.13")
    assert java is not None and newer is not None

    assert cpe.match_entry(entry, java.products[0]) == (True, None)
    assert cpe.match_entry(entry, newer.products[0]) == (False, None)


def test_entry_without_version_or_range_is_unknown_when_vulnerable_only() -> None:
    product = cpe.Product("a", "google", "chrome", "120.0", software_id=1)
    criteria = "cpe:2.3:a:google:chrome:*:*:*:*:*:*:*:*"

    assert cpe.match_entry({"vulnerable": True, "criteria": criteria}, product)[0] is None
    assert cpe.match_entry({"vulnerable": False, "criteria": criteria}, product) == (True, None)


def test_and_with_an_unknown_part_is_unknown_and_negation_keeps_unknown() -> None:
    app = {
        "vulnerable": True,
        "criteria": "cpe:2.3:a:v:app:*:*:*:*:*:*:*:*",
        "versionEndExcluding": "2",
    }
    os_entry = {
        "vulnerable": False,
        "criteria": "cpe:2.3:o:v:os:*:*:*:*:*:*:*:*",
        "versionEndExcluding": "5",
    }
    config = {"operator": "AND", "nodes": [{"cpeMatch": [app]}, {"cpeMatch": [os_entry]}]}
    installed = [
        cpe.Product("a", "v", "app", "1", software_id=1),
        cpe.Product("o", "v", "os", None),
    ]

    found = cpe.evaluate([config], installed)
    negated = cpe.evaluate([{**config, "negate": True}], installed)

    assert [h.truth for h in found] == [None]
    assert [h.truth for h in negated] == [None]


def test_nested_children_nodes_are_evaluated() -> None:
    leaf = {"vulnerable": True, "criteria": "cpe:2.3:a:v:app:1.0:*:*:*:*:*:*:*"}
    node = {
        "operator": "AND",
        "children": [{"cpeMatch": [leaf]}, {"operator": "OR", "cpeMatch": []}],
    }

    assert (
        cpe.evaluate([{"nodes": [node]}], [cpe.Product("a", "v", "app", "1.0", software_id=1)])
        == []
    )


def test_escaped_cpe_names_split_right() -> None:
    parts = cpe.split_cpe(r"cpe:2.3:a:notepad-plus-plus:notepad\+\+:8.5:*:*:*:*:*:*:*")

    assert parts[:4] == ("a", "notepad-plus-plus", "notepad++", "8.5")
    with pytest.raises(cpe.CpeError):
        cpe.split_cpe("cpe:2.3:a:too:short")


@pytest.mark.parametrize(
    ("name", "publisher", "version", "expected"),
    [
        ("Mozilla Firefox (x64 en-US)", "Mozilla", "121.0", [("mozilla", "firefox", "121.0")]),
        (
            "Mozilla Firefox 115.6.0 ESR (x64 en-US)",
            "Mozilla",
            "115.6.0",
            [("mozilla", "firefox_esr", "115.6.0")],
        ),
        ("Google Chrome", "Google LLC", "120.0.6099.109", [("google", "chrome", "120.0.6099.109")]),
        (
            "7-Zip 23.01 (x64)",
            "Igor Pavlov",
            "23.01",
            [("7-zip", "7-zip", "23.01"), ("igor_pavlov", "7-zip", "23.01")],
        ),
        (
            "Notepad++ (64-bit x64)",
            "Notepad++ Team",
            "8.6",
            [("notepad-plus-plus", "notepad++", "8.6")],
        ),
        ("VLC media player", "VideoLAN", "3.0.20", [("videolan", "vlc_media_player", "3.0.20")]),
        (
            "Java 8 Update 391 (64-bit)",
            "Oracle Corporation",
            "8.0.3910.13",
            [("oracle", "jre", "1.8.0"), ("sun", "jre", "1.8.0")],
        ),
        (
            "Microsoft Office Professional Plus 2016",
            "Microsoft Corporation",
            "16.0.4266.1001",
            [("microsoft", "office", "2016")],
        ),
        ("iTunes", "Apple Inc.", "12.13.1.3", [("apple", "itunes", "12.13.1.3")]),
        (
            "Apple Software Update",
            "Apple Inc.",
            "2.7.0.3",
            [("apple", "software_update", "2.7.0.3")],
        ),
    ],
)
def test_windows_program_names_map_to_cpe_products(
    name: str, publisher: str, version: str, expected: list[tuple[str, str, str]]
) -> None:
    mapping = products.map_program(name, publisher, version)

    assert mapping is not None
    assert [(p.vendor, p.product, p.version) for p in mapping.products] == expected


def test_names_containing_a_known_product_do_not_become_it() -> None:
    helper = products.map_program("Firefox Profile Helper", "Some Vendor", "1.0")
    no_publisher = products.map_program("Firefox Profile Helper", None, "1.0")

    assert helper is not None
    assert [(p.vendor, p.product) for p in helper.products] == [
        ("some_vendor", "firefox_profile_helper")
    ]
    assert no_publisher is None


def test_office_product_line_matches_are_unknown() -> None:
    office = products.map_program(
        "Microsoft Office Standard 2016", "Microsoft Corporation", "16.0.1"
    )
    entry = {"vulnerable": True, "criteria": "cpe:2.3:a:microsoft:office:2016:*:*:*:*:*:*:*"}
    assert office is not None

    truth, reason = cpe.match_entry(entry, office.products[0])

    assert truth is None
    assert reason == "version 2016 names a product line, not a patch level"


def test_windows_builds_map_to_their_releases() -> None:
    found = products.os_products(WINDOWS_10)

    assert [(p.product, p.version) for p in found] == [
        ("windows_10", "22h2"),
        ("windows_10_22h2", "10.0.19045.3803"),
    ]


def _installed_for(record: FeedRecord, rng: random.Random) -> list[cpe.Product]:
    """Products named like the record's own entries, at versions that hit its exact
    versions, its range ends and neither, with no version, an unreadable one, an update or
    a product line; several of one name at once; and both platforms."""
    entries: list[dict[str, Any]] = []

    def walk(node: dict[str, Any]) -> None:
        entries.extend(node.get("cpeMatch") or [])
        for child in node.get("children") or []:
            walk(child)

    for configuration in record.configurations or []:
        for node in configuration.get("nodes", []):
            walk(node)
    installed: list[cpe.Product] = []
    for entry in rng.sample(entries, min(len(entries), 4)):
        part, vendor, name, version, update = cpe.split_cpe(entry["criteria"])[:5]
        ends = [str(v) for k, v in entry.items() if k.startswith("version")]
        other = cpe.split_cpe(rng.choice(entries)["criteria"])[3]
        choices: list[str | None] = [version, other, *ends, None, "beta", "1.0", "999.0"]
        for _ in range(rng.randint(1, 3)):
            installed.append(
                cpe.Product(
                    part,
                    vendor,
                    name,
                    rng.choice(choices),
                    rng.choice([None, None, update, "update_21", "sp1"]),
                    software_id=len(installed) + 1,
                    line_only=rng.random() < 0.1,
                )
            )
    return installed + products.os_products(WINDOWS_10) + products.os_products(DEBIAN_11)


def test_prepared_configurations_agree_with_the_plain_walk_on_every_shared_record() -> None:
    """cpe.Configurations files exact versions by key and skips what can not hold; on every
    shared NVD record, with products built to hit and miss its entries, it must find what
    walking every entry against every product finds, in the same order."""
    rng = random.Random(23)
    compared = hits = 0
    differ = []
    for path in sorted(shared_data("nvd_cve").glob("*.json.gz")):
        _, records = parse_input(FeedInput(str(path), path))
        for record in records:
            if not isinstance(record, FeedRecord) or not record.configurations:
                continue
            installed = _installed_for(record, rng)
            want = [
                (h.product.software_id, h.product.product, h.truth, h.reason, id(h.entry))
                for h in cpe_reference.evaluate(record.configurations, installed)
            ]
            prepared = cpe.Configurations(record.configurations)
            # Twice: the second evaluation reads the files the first one built.
            for _ in range(2):
                got = [
                    (h.product.software_id, h.product.product, h.truth, h.reason, id(h.entry))
                    for h in prepared.evaluate(cpe.index_products(installed))
                ]
                if got != want:
                    differ.append(record.record_id)
            compared += 1
            hits += len(want)

    assert compared > 4000
    assert hits > 2000  # the products do hit: the comparison is not of empty lists
    assert differ == []


def test_split_cpe_reads_plain_and_escaped_names_alike() -> None:
    """Names without a backslash split on colons directly; they must read as the escape
    reader reads them, and escaped colons must stay inside their attribute."""
    names: set[str] = set()
    for path in sorted(shared_data("nvd_cve").glob("*.json.gz")):
        _, records = parse_input(FeedInput(str(path), path))
        for record in records:
            for configuration in getattr(record, "configurations", None) or []:
                for node in configuration.get("nodes", []):
                    names.update(e["criteria"] for e in node.get("cpeMatch") or [])
    plain = [n for n in names if "\\" not in n]

    wrong = [
        n for n in plain if cpe.split_cpe(n) != tuple(cpe._split_escaped(n[len("cpe:2.3:") :]))
    ]
    escaped = cpe.split_cpe(r"cpe:2.3:a:acme:net\:tool:1.0\\:*:*:*:*:*:*:*")

    assert len(plain) > 5_000
    assert wrong == []
    assert escaped[2:4] == ("net:tool", "1.0\\")
