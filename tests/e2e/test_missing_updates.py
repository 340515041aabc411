"""Missing updates in the browser: Microsoft's documents and an osquery inventory of a
Windows 10 22H2 host, imported with the real CLI; the tab lists what the host lacks, newest
first, and the flyout says why and where to get it. A later osquery result that shows the
January update installed removes it and everything it supersedes."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, expect

from tests.shared import REPO, shared_data

from .conftest import Stack, screenshot, serious_accessibility_violations, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]

OSQUERY = REPO / "tests" / "ingest" / "data" / "osquery"
HOST = "WS-FIN-014"


def test_missing_windows_updates_follow_the_installed_hotfixes(new_page, stack: Stack) -> None:
    # Partial (exit 3): February holds one CVE id with a typo, which is reported and skipped.
    feeds = json.loads(
        stack.server.cli(
            "feeds", "import", str(shared_data("msrc_cvrf")), "--json", exit_codes=(3,)
        )
    )
    assert (feeds["records_by_feed"], feeds["status"]) == ({"msrc": 313}, "partial")
    stack.server.cli("import", "osquery", str(OSQUERY / "windows10-22h2-snapshot.log"), "--json")

    page: Page = new_page(bypass_csp=True)
    sign_in(page, stack)
    page.get_by_test_id("device-search").fill(HOST.lower())
    page.get_by_test_id("table-row").filter(has_text=HOST).first.click()
    page.get_by_test_id("tab-updates").click()

    # Build 10.0.19045.3803 is December's; January to March are missing, newest first.
    rows = page.get_by_test_id("updates-table").get_by_test_id("table-row")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("KB5035845")
    expect(rows.nth(0)).to_contain_text("2024-Mar")
    expect(rows.nth(1)).to_contain_text("KB5034763")
    expect(rows.nth(2)).to_contain_text("KB5034122")
    expect(page.get_by_test_id("updates-summary")).to_contain_text("3 updates missing")
    expect(page.get_by_test_id("updates-summary")).to_contain_text("of them exploited")

    rows.nth(1).click()
    flyout = page.get_by_test_id("flyout")
    expect(flyout.get_by_test_id("update-reason")).to_have_text(
        "build 10.0.19045.3803 < fixed build 10.0.19045.4046 (KB5034763)"
    )
    link = flyout.get_by_test_id("update-link").get_by_role("link")
    expect(link).to_have_attribute(
        "href", "https://catalog.update.microsoft.com/v7/site/Search.aspx?q=KB5034763"
    )
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    expect(flyout.get_by_test_id("update-cves")).to_contain_text("CVE-2024-21351")
    assert serious_accessibility_violations(page) == []
    screenshot(page, "missing-updates-flyout")
    flyout.get_by_test_id("flyout-close").click()

    # January's update installed (the build string not yet refreshed): only February and
    # March are left.
    stack.server.cli(
        "import", "osquery", str(OSQUERY / "windows10-22h2-differential.log"), "--json"
    )
    page.reload()
    expect(rows).to_have_count(2)
    expect(rows.nth(1)).to_contain_text("KB5034763")

    # The missing updates' CVEs are discovered vulnerabilities of the software "Windows":
    # February's kernel CVE is there with the build comparison as its evidence, and a CVE
    # only January's update fixed is not (the installed January hotfix covers it).
    page.get_by_test_id("tab-vulnerabilities").click()
    page.get_by_test_id("filter-cve").fill("CVE-2024-21338")
    kernel = page.get_by_test_id("vulnerabilities-table").get_by_test_id("table-row")
    expect(kernel).to_have_count(1)
    expect(kernel).to_contain_text("Windows 10.0.19045.3803")
    kernel.click()
    flyout = page.get_by_test_id("vulnerability-flyout")
    expect(flyout.get_by_test_id("vulnerability-evidence")).to_contain_text(
        "build 10.0.19045.3803 < fixed build 10.0.19045.4046 (KB5034763)"
    )
    assert serious_accessibility_violations(page) == []
    screenshot(page, "windows-vulnerability-flyout")
    page.get_by_role("button", name="Close").click()
    page.get_by_test_id("filter-cve").fill("CVE-2024-20674")
    expect(page.get_by_test_id("vulnerabilities-empty")).to_be_visible()
