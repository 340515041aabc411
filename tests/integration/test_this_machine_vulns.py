"""This machine, enrolled by the real agent: its Python packages are matched against the
shared PyPI advisories, end to end (inventory -> finding -> recommendation -> exposure).

The expected findings come from an oracle that shares no code with the matcher: an OSV
PyPI advisory lists every affected version explicitly, so an installed version is listed
exactly when the advisory's `versions` list names it. A package Debian installed (under
/usr/lib/python3/dist-packages) is Debian's build, which may carry a backported fix PyPI's
version does not show, so with no Debian advisory imported its findings are "unknown", each
saying why; a package pip installed is affected.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from bench.serverproc import ServerProcess
from packaging.utils import canonicalize_name
from packaging.version import Version

from hostwatch.agent.software import SYSTEM_PYTHON
from tests.shared import shared_data

from .procs import start_agent, stop, wait_for

pytestmark = pytest.mark.slow

_LIST = (
    "import importlib.metadata as m, json;"
    "print(json.dumps([[d.metadata['Name'], d.version, str(d.locate_file(''))]"
    " for d in m.distributions()]))"
)
# Where Debian's python3-* packages put their distributions; pip's own go to /usr/local.
DEBIAN_PYTHON = "/usr/lib/python3/dist-packages"


def _installed_with_paths() -> list[tuple[str, str, str]]:
    out = subprocess.run(
        [SYSTEM_PYTHON, "-I", "-c", _LIST], capture_output=True, text=True, check=True
    ).stdout
    return [(canonicalize_name(n), v, p) for n, v, p in json.loads(out) if n]


def _installed() -> dict[str, str]:
    """What the system interpreter reports, as the agent's pip collector reads it."""
    return {name: version for name, version, _ in _installed_with_paths()}


def _debian_managed() -> set[str]:
    return {name for name, _, path in _installed_with_paths() if path == DEBIAN_PYTHON}


def _oracle(installed: dict[str, str]) -> dict[str, tuple[str, set[str], list[str]]]:
    """Package -> (installed version, ids of the advisories that list it, their folders)."""
    root = shared_data("osv_pypi", "vulns")
    found: dict[str, tuple[str, set[str], list[str]]] = {}
    for folder in sorted(root.iterdir()):
        name = canonicalize_name(folder.name)
        if name not in installed:
            continue
        version = installed[name]
        ids: set[str] = set()
        for path in sorted(folder.glob("*.yaml")):
            record = yaml.safe_load(path.read_text(encoding="utf-8"))
            if record.get("withdrawn"):
                continue
            for affected in record.get("affected") or []:
                package = affected.get("package") or {}
                if canonicalize_name(str(package.get("name", ""))) != name:
                    continue
                if version in [str(v) for v in affected.get("versions") or []]:
                    ids.add(record["id"])
        if ids:
            found[name] = (version, ids, [str(folder)])
    return found


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path / "server", database_url=db_url)
    server.start()
    yield server
    server.stop()


def _api(server: ServerProcess) -> httpx.Client:
    server.cli(
        "users", "create", "vera", "--role", "analyst", "--password-stdin", stdin="p" * 16 + "\n"
    )
    token = server.cli("tokens", "create", "--user", "vera").strip()
    return httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=60
    )


def _all(api: httpx.Client, url: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = api.get(
            url, params={**params, "limit": 500, **({"cursor": cursor} if cursor else {})}
        )
        assert page.status_code == 200, page.text
        body = page.json()
        items.extend(body["items"])
        cursor = body.get("next_cursor")
        if not cursor:
            return items


def test_this_machines_vulnerable_python_packages_end_to_end(
    server: ServerProcess, tmp_path: Path
) -> None:
    oracle = _oracle(_installed())
    if not oracle:
        pytest.fail(
            f"none of the Python packages of {SYSTEM_PYTHON} is named as affected by the shared "
            "OSV PyPI advisories, so this machine can not show the end-to-end path"
        )
    folders = [folder for _, _, paths in oracle.values() for folder in paths]
    imported = json.loads(server.cli("feeds", "import", *folders, "--json"))
    assert imported["records_by_feed"]["osv"] > 0

    token = server.cli("enroll-token", "create").strip()
    # Processes are polled from /proc: the kernel's audit slot is not this test's concern.
    agent = start_agent(
        server, tmp_path / "agent", token, env={"HOSTWATCH_AGENT_PROCESS_SOURCE": "poll"}
    )
    api = _api(server)
    try:
        device = wait_for(
            lambda: next((d["id"] for d in api.get("/api/devices").json()["items"]), None),
            60,
            "the agent's enrollment",
        )

        def matched() -> list[dict[str, Any]] | None:
            found = _all(api, f"/api/devices/{device}/vulnerabilities")
            return found or None

        findings = wait_for(matched, 90, "findings from the agent's first inventory", 1.0)
    finally:
        stop(agent)

    # Every advisory the oracle names is a finding of its package, and no other pip finding;
    # Debian's packages are unknown with the reason, pip's own affected.
    debian = _debian_managed()
    by_package: dict[str, set[str]] = {}
    for finding in findings:
        software = finding["software"]
        if software["source"] != "pip":
            continue
        name = canonicalize_name(software["name"])
        assert software["version"] == oracle[name][0]
        detail = api.get(f"/api/devices/{device}/vulnerabilities/{finding['id']}").json()
        ids = {e["advisory"] for e in detail["evidence"]}
        by_package.setdefault(name, set()).update(ids)
        if name in debian:
            assert finding["match"] == "unknown", (name, finding["cve"])
            told = " ".join(e["text"] for e in detail["evidence"])
            assert "Not decided: the distribution's package" in told
            assert "may be fixed by a distribution backport" in told
        else:
            assert finding["match"] == "affected", (name, finding["cve"])
    assert by_package == {name: ids for name, (_, ids, _) in oracle.items()}

    # One recommendation per package that is affected (pip's own), to a version none of its
    # advisories lists; none for a package whose findings are undecided.
    recommendations = _all(api, f"/api/devices/{device}/recommendations", status="active")
    recommended = {canonicalize_name(r["component"]) for r in recommendations}
    assert not recommended & (set(oracle) & debian)
    for name, (version, ids, folders_of) in oracle.items():
        if name in debian:
            continue
        [rec] = [r for r in recommendations if canonicalize_name(r["component"]) == name]
        detail = api.get(f"/api/recommendations/{rec['id']}").json()
        fixed = detail["fixed_version"]
        assert fixed is not None, f"{name}: no fix named though every advisory gives one"
        assert Version(fixed) > Version(version)
        listed = set()
        for folder in folders_of:
            for path in Path(folder).glob("*.yaml"):
                record = yaml.safe_load(path.read_text(encoding="utf-8"))
                if record["id"] in ids:
                    for affected in record.get("affected") or []:
                        listed.update(str(v) for v in affected.get("versions") or [])
        assert fixed not in listed, f"{name}: {fixed} is itself listed as affected"
        assert rec["weakness_count"] >= len(ids)

    # The exposure counts affected findings only: the undecided ones leave it untouched.
    security = api.get(f"/api/devices/{device}").json()["security"]
    drivers = {canonicalize_name(d["software"]) for d in security["exposure"]["drivers"]}
    assert not drivers & debian
    affected_here = set(oracle) - debian
    if affected_here:
        assert security["exposure_score"] > 0
        assert drivers & affected_here
    else:
        assert security["exposure_score"] == 0
        assert security["exposure_level"] == "low"
