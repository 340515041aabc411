"""Software inventory against dpkg-query and the system interpreter's own package metadata."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from hostwatch.agent.software import (
    SYSTEM_PYTHON,
    collect_software,
    dpkg_packages,
    parse_rpm,
    python_packages,
)


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_dpkg_packages_count_equals_dpkg_query_listing() -> None:
    listed = subprocess.run(["dpkg-query", "-W"], capture_output=True, text=True, check=True)
    expected = len(listed.stdout.splitlines())

    items = collect_software()

    assert sum(1 for item in items if item.source == "dpkg") == expected
    assert expected > 0


def test_dpkg_packages_carry_version_arch_and_source_package() -> None:
    listed = subprocess.run(
        ["dpkg-query", "-W", "-f=${Package}\t${Version}\t${Architecture}\t${Source}\n"],
        capture_output=True,
        text=True,
        check=True,
    )
    expected = set()
    for line in listed.stdout.splitlines():
        name, version, arch, source = line.split("\t")
        # Debian policy: an empty Source means the binary's own name; "src (ver)" names both.
        expected.add((name, version, arch, source.split(" ")[0] or name))

    items = dpkg_packages()

    assert {(i.name, i.version, i.arch, i.source_package) for i in items} == expected
    assert all(i.status and i.status.endswith(("installed", "config-files")) for i in items)


def test_python_packages_include_every_dist_info_of_the_system_python() -> None:
    sys_path = json.loads(
        subprocess.run(
            [SYSTEM_PYTHON, "-I", "-c", "import json, sys; print(json.dumps(sys.path))"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    expected = set()
    for entry in sys_path:
        for info in Path(entry).glob("*.dist-info") if Path(entry).is_dir() else []:
            name, version = info.name.removesuffix(".dist-info").split("-", 1)
            expected.add((_normalize(name), version, entry))

    items = python_packages()

    found = {(_normalize(i.name), i.version, i.install_path) for i in items}
    assert expected <= found
    assert all(i.source == "pip" for i in items)


def test_collect_software_reports_a_failing_tool_as_an_error() -> None:
    errors: list[str] = []

    items = collect_software(errors, dpkg_query="/bin/false")

    assert not [i for i in items if i.source == "dpkg"]
    assert [i for i in items if i.source == "pip"]
    assert errors == [
        "software inventory from dpkg failed: /bin/false exited with status 1: no message"
    ]


def test_collect_software_missing_tool_yields_no_items_and_no_error(tmp_path: Path) -> None:
    errors: list[str] = []

    items = collect_software(
        errors,
        dpkg_query=str(tmp_path / "dpkg-query"),
        rpm=str(tmp_path / "rpm"),
        python=str(tmp_path / "python3"),
    )

    assert items == []
    assert errors == []


def test_collect_software_gives_up_on_a_tool_that_hangs(tmp_path: Path) -> None:
    slow = tmp_path / "slow-dpkg-query"
    slow.write_text("#!/bin/sh\nexec sleep 30\n")
    slow.chmod(0o755)
    errors: list[str] = []

    items = collect_software(errors, dpkg_query=str(slow), python="/nonexistent", timeout=0.5)

    assert items == []
    assert errors == [f"software inventory from dpkg failed: {slow} did not finish within 0.5 s"]


def test_parse_rpm_builds_epoch_version_release_and_source_name() -> None:
    text = (
        "bash\t(none)\t5.1.8\t6.el9_1\tx86_64\tbash-5.1.8-6.el9_1.src.rpm\tRocky Enterprise\n"
        "openssl-libs\t1\t3.0.7\t27.el9\tx86_64\topenssl-3.0.7-27.el9.src.rpm\t(none)\n"
        "gpg-pubkey\t(none)\tfd431d51\t4ae0493b\t(none)\t(none)\t(none)\n"
    )

    items = parse_rpm(text)

    assert [(i.name, i.version, i.arch, i.source_package, i.vendor) for i in items] == [
        ("bash", "5.1.8-6.el9_1", "x86_64", "bash", "Rocky Enterprise"),
        ("openssl-libs", "1:3.0.7-27.el9", "x86_64", "openssl", None),
        ("gpg-pubkey", "fd431d51-4ae0493b", None, None, None),
    ]
