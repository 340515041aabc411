"""A device known only from imported Windows event logs: the real `hostwatch import evtx`
fills its sidebar, and the page says honestly what logs cannot tell."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, expect

from tests.shared import shared_data

from .conftest import Stack, screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# One interactive logon (4624, type 2) of MSEDGEWIN10\IEUser and a failed one (4625).
SAMPLE = (
    "evtx_attack_samples",
    "Credential Access",
    "CA_4624_4625_LogonType2_LogonProc_chrome.evtx",
)


def test_sidebar_of_a_device_imported_from_evtx(page: Page, stack: Stack, db_url: str) -> None:
    summary = json.loads(stack.server.cli("import", "evtx", str(shared_data(*SAMPLE)), "--json"))
    assert (summary["status"], summary["stored"], summary["devices_created"]) == ("complete", 4, 1)

    sign_in(page, stack)
    page.get_by_test_id("device-search").fill("MSEDGEWIN10")
    row = page.get_by_test_id("table-row").filter(has_text="MSEDGEWIN10")
    expect(row).to_have_count(1)
    expect(row.get_by_test_id("known-from")).to_have_text("Endpoint")
    row.click()

    expect(page.get_by_test_id("device-name")).to_have_text("MSEDGEWIN10")
    expect(page.get_by_test_id("sidebar-tags")).to_contain_text("source:endpoint_logs")
    expect(page.get_by_test_id("sidebar-tags")).to_contain_text("os:windows")
    expect(page.get_by_test_id("detail-hostname")).to_have_text("MSEDGEWIN10")
    expect(page.get_by_test_id("detail-memory")).to_have_text("Not collected: no agent")
    expect(page.get_by_test_id("details-no-agent")).to_contain_text("known from imported logs")
    # First and last seen are the times of the first and last record, 2020-09-09 UTC.
    expect(page.get_by_test_id("network-first-seen")).to_contain_text("2020")
    expect(page.get_by_test_id("network-last-seen")).to_contain_text("2020")
    expect(page.get_by_test_id("sidebar-users")).to_contain_text("MSEDGEWIN10\\IEUser")
    expect(page.get_by_test_id("sidebar-users")).to_contain_text("logon type 2 (interactive)")
    expect(page.get_by_test_id("sidebar-directory")).to_contain_text("Not applicable")
    expect(page.get_by_test_id("action-manage-tags")).to_be_visible()
    screenshot(page, f"profile-evtx-{db_url.split(':')[0].split('+')[0]}")
