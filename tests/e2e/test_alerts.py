"""Alerts in the browser: import a SigmaHQ sample whose rule fires, find the alert on the
device, open its flyout, change its status; hostile rule text stays text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from playwright.sync_api import Page, expect

from tests.shared import shared_data

from .conftest import Stack, screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]

RULE = (
    "sigma",
    "rules-emerging-threats/2026/Exploits/CVE-2026-33829/"
    "proc_creation_win_exploit_cve_2026_33829.yml",
)
EVTX = (
    "sigma",
    "regression_data/rules-emerging-threats/2026/Exploits/CVE-2026-33829/"
    "proc_creation_win_exploit_cve_2026_33829/7c3a5b1d-9e2f-4a8c-b5d7-1e0f3c6a9b2d.evtx",
)
TITLE = "Potential CVE-2026-33829 Exploitation - Windows Snipping Tool Remote File Path URI"
HOSTILE_TITLE = "<img src=x onerror=alert(1)> hostile rule"


def _hostile_rule(folder: Path) -> Path:
    """The same detection under another id, with markup and a script link in its text."""
    rule = yaml.safe_load(shared_data(*RULE).read_text())
    rule.update(
        id="6f0c6c1e-3d0b-4e8a-9a55-3c1f6b2b7d10",
        title=HOSTILE_TITLE,
        description="<script>alert(2)</script> runs SnippingTool",
        references=["javascript:alert(3)", "https://example.org/advisory"],
        level="medium",
    )
    path = folder / "hostile.yml"
    path.write_text(yaml.safe_dump(rule))
    return path


def test_alert_from_an_imported_sample_is_triaged_in_the_flyout(
    page: Page, stack: Stack, db_url: str, tmp_path: Path
) -> None:
    rules = json.loads(
        stack.server.cli(
            "rules", "import", str(shared_data(*RULE)), str(_hostile_rule(tmp_path)), "--json"
        )
    )
    assert (rules["loaded"], rules["rejected_count"]) == (2, 0)
    stack.server.cli("import", "evtx", str(shared_data(*EVTX)), "--json")
    # Until the import runs detection itself, raise the alerts for what it stored.
    stack.server.cli("rules", "detect", "--json")

    sign_in(page, stack)
    page.get_by_test_id("device-search").fill("swachchhanda")
    page.get_by_test_id("table-row").filter(has_text="swachchhanda").click()
    expect(page.get_by_test_id("device-name")).to_have_text("swachchhanda")
    sidebar_risk = page.get_by_test_id("security-risk")
    expect(sidebar_risk).to_contain_text("High")
    expect(sidebar_risk.get_by_test_id("risk-reasons")).to_contain_text(TITLE)
    expect(page.get_by_test_id("overview-alerts")).to_contain_text(TITLE)

    page.get_by_test_id("tab-alerts").click()
    row = page.get_by_test_id("table-row").filter(has_text=TITLE)
    expect(row.first).to_be_visible()
    expect(page.get_by_test_id("table-row").filter(has_text=HOSTILE_TITLE).first).to_be_visible()
    row.first.click()

    flyout = page.get_by_test_id("alert-flyout")
    expect(flyout.get_by_test_id("alert-status")).to_have_text("New")
    expect(flyout.get_by_test_id("rule-description")).to_contain_text("CVE-2026-33829")
    expect(flyout.get_by_test_id("alert-techniques")).to_have_text("T1187")
    link = flyout.get_by_test_id("rule-references").get_by_role("link").first
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    expect(flyout.get_by_test_id("alert-events")).to_contain_text("ms-screensketch")
    expect(flyout.get_by_test_id("process-tree")).to_be_visible()
    focus = flyout.locator("[data-testid=tree-node][data-node-role=focus]")
    expect(focus).to_contain_text("SnippingTool")
    flyout.get_by_test_id("triage-status").select_option("in_progress")
    flyout.get_by_test_id("triage-assignee").fill("admin")
    flyout.get_by_test_id("triage-save").click()
    expect(flyout.get_by_test_id("alert-status")).to_have_text("In progress")
    expect(flyout.get_by_test_id("alert-assignee")).to_have_text("admin")
    screenshot(page, f"alert-flyout-{db_url.split(':')[0].split('+')[0]}")
    page.get_by_test_id("flyout-close").click()
    expect(flyout).to_have_count(0)
    expect(row.first).to_contain_text("In progress")

    # The hostile rule's text is shown as text; its script link is not a link.
    page.get_by_test_id("table-row").filter(has_text=HOSTILE_TITLE).first.click()
    hostile = page.get_by_test_id("alert-flyout")
    expect(hostile.get_by_test_id("rule-description")).to_have_text(
        "<script>alert(2)</script> runs SnippingTool"
    )
    references = hostile.get_by_test_id("rule-references")
    expect(references).to_contain_text("javascript:alert(3)")
    expect(references.get_by_role("link")).to_have_count(1)
    expect(references.get_by_role("link")).to_have_attribute("href", "https://example.org/advisory")
