"""The console-wide alert queue and incidents pages in the browser, on alerts raised by real
SigmaHQ rules over their own regression samples, imported through the real EVTX path."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.shared import shared_data

from .conftest import PageFactory, Stack, screenshot, serious_accessibility_violations, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Rule path under the shared Sigma folder; its regression sample sits under regression_data/
# at the same path without ".yml". Hosts, levels and times are those of the samples:
CASES = (
    # swachchhanda, 2026-04-20: two processes, two high alerts, one incident.
    "rules-emerging-threats/2026/Exploits/CVE-2026-33829/proc_creation_win_exploit_cve_2026_33829",
    # swachchhanda, 2025-12-15 11:21 to 11:27: two medium and one low alert, one incident.
    "rules/windows/process_creation/proc_creation_win_wmic_recon_hotfix",
    "rules/windows/process_creation/proc_creation_win_wmic_recon_process",
    "rules/windows/process_creation/proc_creation_win_susp_local_system_owner_account_discovery",
    # ar-win-dc.attackrange.local, 2025-10-25: one high alert, an incident of its own.
    "rules/windows/process_creation/proc_creation_win_certutil_decode",
)
WMIC_PROCESS = "Potential Process Reconnaissance via Wmic.EXE"
WMIC_HOTFIX = "Windows Hotfix Updates Reconnaissance Via Wmic.EXE"
CERTUTIL = "File Decoded From Base64/Hex Via Certutil.EXE"
LINKED = re.compile(r"^same device swachchhanda within \d+ min of alert '.+' \([0-9a-f]{8}\)$")


def _seed(stack: Stack) -> None:
    rules = [str(shared_data("sigma", f"{case}.yml")) for case in CASES]
    samples = [
        str(path)
        for case in CASES
        for path in sorted(shared_data("sigma", "regression_data", case).glob("*.evtx"))
    ]
    loaded = json.loads(stack.server.cli("rules", "import", *rules, "--json"))
    assert (loaded["loaded"], loaded["rejected_count"]) == (5, 0)
    assert len(samples) == 5
    # The import evaluates the enabled rules on every event it stores.
    stack.server.cli("import", "evtx", *samples, "--json")


def _rows(page: Page) -> Locator:
    return page.get_by_test_id("alerts-table").get_by_test_id("table-row")


def _open(row: Locator, title: str) -> None:
    """Click a row on its title: other cells hold links (the device) that go elsewhere."""
    row.filter(has_text=title).get_by_text(title, exact=True).click()


def test_alert_queue_filters_triages_and_leads_to_the_incident(
    page: Page, stack: Stack, db_url: str
) -> None:
    _seed(stack)
    engine_name = "sqlite" if db_url.startswith("sqlite") else "postgresql"

    sign_in(page, stack)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Alerts").click()
    expect(page).to_have_url(f"{stack.url}/alerts")
    expect(_rows(page)).to_have_count(6)
    expect(page.get_by_test_id("alerts-total")).to_have_text("6 alerts on every device")

    # Severity: the two medium Wmic alerts; the filter is in the address and survives a reload.
    page.get_by_test_id("filter-severity").select_option("medium")
    expect(page).to_have_url(re.compile(r"/alerts\?severity=medium$"))
    expect(_rows(page)).to_have_count(2)
    page.reload()
    expect(_rows(page)).to_have_count(2)
    expect(_rows(page).filter(has_text=WMIC_PROCESS)).to_have_count(1)
    expect(_rows(page).filter(has_text=WMIC_HOTFIX)).to_have_count(1)

    # Device search, across every severity.
    page.get_by_test_id("filter-severity").select_option("")
    page.get_by_test_id("filter-device").fill("attackrange.local")
    expect(page).to_have_url(re.compile(r"device=attackrange.local"))
    expect(_rows(page)).to_have_count(1)
    expect(_rows(page).first).to_contain_text(CERTUTIL)
    expect(_rows(page).first).to_contain_text("ar-win-dc")
    page.get_by_test_id("filter-device").fill("")
    expect(_rows(page)).to_have_count(6)

    # The flyout: triage through the PATCH, and links to the device and the incident.
    _open(_rows(page), WMIC_PROCESS)
    expect(page).to_have_url(re.compile(r"item="))
    flyout = page.get_by_test_id("alert-flyout")
    expect(flyout.get_by_test_id("alert-status")).to_have_text("New")
    expect(flyout.get_by_test_id("alert-device")).to_have_text("swachchhanda")
    flyout.get_by_test_id("triage-status").select_option("in_progress")
    flyout.get_by_test_id("triage-assignee").fill("admin")
    flyout.get_by_test_id("triage-save").click()
    expect(flyout.get_by_test_id("alert-status")).to_have_text("In progress")
    expect(flyout.get_by_test_id("alert-assignee")).to_have_text("admin")
    screenshot(page, f"alert-queue-flyout-{engine_name}")
    page.get_by_test_id("flyout-close").click()
    expect(flyout).to_have_count(0)
    page.get_by_test_id("filter-status").select_option("in_progress")
    expect(_rows(page)).to_have_count(1)
    expect(_rows(page).first).to_contain_text(WMIC_PROCESS)
    expect(_rows(page).first).to_contain_text("admin")
    page.get_by_test_id("filter-unassigned").click()
    expect(page.get_by_test_id("alerts-empty")).to_have_text("No alerts match these filters.")
    page.get_by_test_id("filter-unassigned").click()

    _open(_rows(page), WMIC_PROCESS)
    page.get_by_test_id("alert-device").get_by_role("link").click()
    expect(page.get_by_test_id("device-name")).to_have_text("swachchhanda")

    # Incidents: three; the medium one holds the Wmic alerts and the low one, with reasons.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Incidents").click()
    expect(page).to_have_url(f"{stack.url}/incidents")
    incidents = page.get_by_test_id("incidents-table").get_by_test_id("table-row")
    expect(incidents).to_have_count(3)
    page.get_by_test_id("incident-filter-severity").select_option("medium")
    expect(incidents).to_have_count(1)
    expect(incidents.first).to_contain_text("swachchhanda\\xodih")
    expect(incidents.first).to_contain_text("In progress")
    incidents.first.click()

    incident = page.get_by_test_id("incident-flyout")
    alerts = incident.get_by_test_id("incident-alert")
    expect(alerts).to_have_count(3)
    expect(incident.get_by_test_id("incident-status")).to_have_text("In progress")
    expect(incident.get_by_test_id("incident-devices")).to_have_text("swachchhanda")
    # Reasons name other alerts' titles: rows are found by their own alert's link.
    wmic_process = alerts.filter(has=page.get_by_role("link", name=WMIC_PROCESS, exact=True))
    expect(wmic_process).to_contain_text("In progress")
    reasons = incident.get_by_test_id("incident-alert-reason").all_inner_texts()
    assert sorted(reasons)[0] == "first alert of the incident", reasons
    assert all(LINKED.match(reason) for reason in sorted(reasons)[1:]), reasons
    screenshot(page, f"incident-flyout-{engine_name}")

    # Resolving the incident resolves its alerts.
    incident.get_by_test_id("incident-triage-status").select_option("resolved")
    incident.get_by_test_id("incident-triage-save").click()
    expect(incident.get_by_test_id("incident-status")).to_have_text("Resolved")
    expect(incident.get_by_test_id("incident-alert-count")).to_have_text("3, 0 active")
    for row in alerts.all():
        expect(row).to_contain_text("Resolved")

    # An alert of the incident opens in the queue, whose flyout links back to the incident.
    incident.get_by_role("link", name=WMIC_HOTFIX, exact=True).click()
    expect(page).to_have_url(re.compile(r"/alerts\?item="))
    expect(page.get_by_test_id("alert-flyout").get_by_test_id("alert-status")).to_have_text(
        "Resolved"
    )
    page.get_by_test_id("alert-incident-link").get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"/incidents\?item="))
    expect(page.get_by_test_id("incident-flyout").get_by_test_id("incident-alert")).to_have_count(3)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_alert_queue_and_incidents_pass_axe_in_both_themes(
    new_page: PageFactory, stack: Stack, db_url: str, theme: str
) -> None:
    _seed(stack)
    page = new_page(color_scheme=theme, bypass_csp=True, viewport={"width": 1680, "height": 1000})
    engine_name = "sqlite" if db_url.startswith("sqlite") else "postgresql"

    sign_in(page, stack)
    page.goto(f"{stack.url}/alerts")
    expect(_rows(page)).to_have_count(6)
    queue_problems = serious_accessibility_violations(page)
    screenshot(page, f"alert-queue-{theme}-{engine_name}")
    _open(_rows(page), CERTUTIL)
    expect(page.get_by_test_id("alert-device")).to_be_visible()
    alert_problems = serious_accessibility_violations(page)
    page.goto(f"{stack.url}/incidents")
    expect(page.get_by_test_id("table-row")).to_have_count(3)
    incidents_problems = serious_accessibility_violations(page)
    screenshot(page, f"incidents-{theme}-{engine_name}")
    page.get_by_test_id("table-row").filter(has_text="Medium").click()
    expect(page.get_by_test_id("incident-alert")).to_have_count(3)
    incident_problems = serious_accessibility_violations(page)
    screenshot(page, f"incident-{theme}-{engine_name}")

    assert queue_problems == []
    assert alert_problems == []
    assert incidents_problems == []
    assert incident_problems == []
