"""Discovered vulnerabilities in the browser: real OSV PyPI advisories imported by the CLI,
a device whose agent-protocol inventory upload lists a vulnerable pip package; the analyst
sees the finding with its computed CVSS, opens it, and marks it an accepted risk."""

from __future__ import annotations

import json

import httpx
import pytest
from playwright.sync_api import expect

from hostwatch.db.base import utcnow
from tests.shared import shared_data

from .conftest import PageFactory, Stack, screenshot, serious_accessibility_violations, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CVE = "CVE-2023-46136"
# PYSEC-2023-221's vector CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H scores 7.5.
CVSS = "7.5 (CVSS 3.1)"
HOSTILE = "<img src=x onerror=alert(1)>"


def _enrolled_with_werkzeug(stack: Stack) -> str:
    """A device enrolled over the agent protocol whose inventory holds Werkzeug 3.0.0."""
    token = stack.server.cli("enroll-token", "create").strip()
    enrolled = httpx.post(
        f"{stack.url}/api/agent/enroll",
        json={
            "enroll_token": token,
            "agent_version": "test",
            "host": {"hostname": "py-web-01", "os_family": "linux"},
        },
    ).json()
    agent = {"Authorization": f"Bearer {enrolled['credential']}"}
    upload = httpx.put(
        f"{stack.url}/api/agent/inventory",
        headers=agent,
        json={
            "collected_at": utcnow().isoformat(),
            "host": {
                "hostname": "py-web-01",
                "os_family": "linux",
                "os_name": "Debian GNU/Linux 12 (bookworm)",
                "os_version": "12",
            },
            "software": [
                {"source": "pip", "name": "Werkzeug", "version": "3.0.0"},
                {"source": "pip", "name": HOSTILE, "version": "1.0"},
                {"source": "dpkg", "name": "bash", "version": "5.2.15-2+b2"},
            ],
        },
    )
    assert upload.status_code == 200, upload.text
    return str(enrolled["device_id"])


def test_finding_from_imported_advisories_is_marked_accepted_risk(
    new_page: PageFactory, stack: Stack, db_url: str
) -> None:
    imported = json.loads(
        stack.server.cli(
            "feeds", "import", str(shared_data("osv_pypi", "vulns", "werkzeug")), "--json"
        )
    )
    assert (imported["records"], imported["added"]) == (7, 7)
    device_id = _enrolled_with_werkzeug(stack)
    engine_name = "postgresql" if db_url.startswith("postgresql") else "sqlite"

    # bypass_csp lets the test inject axe-core, as the other accessibility checks do.
    page = new_page(bypass_csp=True)
    sign_in(page, stack)
    page.goto(f"{stack.url}/devices/{device_id}?tab=vulnerabilities")
    row = page.get_by_test_id("table-row").filter(has_text=CVE)
    expect(row).to_have_count(1)
    expect(row).to_contain_text(CVSS)
    expect(row).to_contain_text("Werkzeug 3.0.0")
    expect(row).to_contain_text("Open")
    # Only PyPI advisories are imported: the page says the Debian package was not checked.
    coverage = page.get_by_test_id("vulnerabilities-coverage")
    expect(coverage).to_contain_text("Partly assessed")
    expect(coverage).to_contain_text(
        "1 Debian package (Debian:12): not checked: no advisories for Debian:12 imported"
    )
    expect(coverage).to_contain_text(
        "2 Python packages (PyPI): checked against advisories for PyPI"
    )
    table_problems = serious_accessibility_violations(page)
    screenshot(page, f"vulnerabilities-{engine_name}")

    row.click()
    flyout = page.get_by_test_id("vulnerability-flyout")
    expect(flyout.get_by_test_id("vulnerability-cvss")).to_have_text(CVSS)
    expect(flyout.get_by_test_id("vulnerability-description")).to_contain_text(
        "Werkzeug is a comprehensive WSGI"
    )
    expect(flyout.get_by_test_id("vulnerability-evidence")).to_contain_text(
        "OSV advisory PYSEC-2023-221 lists version 3.0.0 of Werkzeug (PyPI) as affected"
    )
    links = flyout.get_by_test_id("vulnerability-references").get_by_role("link")
    expect(links.first).to_have_attribute("rel", "noopener noreferrer")
    for href in links.evaluate_all("links => links.map((a) => a.getAttribute('href'))"):
        assert href.startswith(("https://", "http://")), href
    flyout_problems = serious_accessibility_violations(page)

    flyout.get_by_test_id("mark-status").select_option("accepted_risk")
    flyout.get_by_test_id("mark-save").click()
    expect(flyout.get_by_test_id("mark-error")).to_contain_text("reason")
    flyout.get_by_test_id("mark-reason").fill("Uploads are capped at 1 MB by the proxy")
    flyout.get_by_test_id("mark-save").click()
    expect(flyout.get_by_test_id("vulnerability-status")).to_have_text("Accepted risk")
    expect(flyout.get_by_test_id("marking-note")).to_contain_text("capped at 1 MB")
    screenshot(page, f"vulnerability-flyout-{engine_name}")
    page.get_by_role("button", name="Close").click()
    expect(page.get_by_test_id("vulnerability-flyout")).to_have_count(0)
    expect(page.get_by_test_id("table-row").filter(has_text=CVE)).to_contain_text("Accepted risk")

    # The software tab counts the weakness and lists the CVE in its flyout; device text is text.
    page.get_by_test_id("tab-software").click()
    werkzeug = page.get_by_test_id("table-row").filter(has_text="Werkzeug")
    expect(werkzeug).to_contain_text("1")
    expect(page.get_by_test_id("table-row").filter(has_text=HOSTILE)).to_have_count(1)
    assert page.locator("img[src='x']").count() == 0
    werkzeug.click()
    expect(page.get_by_test_id("software-cves")).to_contain_text(CVE)
    expect(page.get_by_test_id("software-product-code")).to_have_text("pkg:pypi/werkzeug@3.0.0")
    page.get_by_role("button", name="Close").click()
    page.get_by_test_id("filter-product-code").fill("pkg:pypi/werkzeug")
    expect(page.get_by_test_id("table-row")).to_have_count(1)
    expect(page.get_by_test_id("table-row")).to_contain_text("Werkzeug")

    assert table_problems == []
    assert flyout_problems == []
