"""An analyst signs in, finds this machine (enrolled by the real agent), reads its sidebar and
opens its software in a flyout, from a row and from a pasted link."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine, select

from hostwatch.devices.models import Device
from tests.integration.procs import start_agent, stop, wait_for

from .conftest import PageFactory, Stack, screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HOSTILE = "<img src=x onerror=alert(1)>"


def _inventoried(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return conn.execute(
            select(Device.id).where(Device.inventory_collected_at.is_not(None))
        ).scalar()


def _os_name() -> str:
    for line in Path("/etc/os-release").read_text().splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.partition("=")[2].strip('"')
    raise AssertionError("no PRETTY_NAME in /etc/os-release")


def test_profile_of_this_machine_shows_each_section_and_its_software(
    new_page: PageFactory, stack: Stack, engine: Engine, tmp_path: Path, db_url: str
) -> None:
    token = stack.server.cli("enroll-token", "create").strip()
    agent = start_agent(stack.server, tmp_path / "agent", token)
    try:
        device_id = wait_for(lambda: _inventoried(engine), 60, "the agent's first inventory")
        page = new_page()

        sign_in(page, stack)
        page.get_by_test_id("device-search").fill(socket.gethostname())
        row = page.get_by_test_id("table-row").filter(has_text=socket.gethostname())
        expect(row).to_have_count(1)
        row.click()
        page.wait_for_url(f"{stack.url}/devices/{device_id}")

        expect(page.get_by_test_id("sidebar-tags")).to_contain_text("source:agent")
        expect(page.get_by_test_id("security-alerts")).to_have_text("0")
        expect(page.get_by_test_id("security-risk")).to_contain_text("None")
        # Exposure comes with vulnerability matching: no feed is imported here.
        expect(page.get_by_test_id("sidebar-security")).to_contain_text("Not assessed")
        expect(page.get_by_test_id("detail-hostname")).to_have_text(socket.gethostname())
        expect(page.get_by_test_id("detail-os")).to_contain_text(_os_name())
        expect(page.get_by_test_id("detail-cpu")).to_contain_text("core")
        expect(page.get_by_test_id("network-first-seen").locator("time")).to_have_count(1)
        expect(page.get_by_test_id("network-last-seen").locator("time")).to_have_count(1)
        expect(page.get_by_test_id("sidebar-directory")).to_contain_text("Not applicable")
        expect(page.get_by_test_id("sidebar-users")).not_to_contain_text("Not reported yet")
        expect(page.get_by_test_id("action-manage-tags")).to_be_visible()
        engine_name = "sqlite" if db_url.startswith("sqlite") else "postgresql"
        screenshot(page, f"profile-agent-{engine_name}")

        page.get_by_test_id("tab-software").click()
        first = page.get_by_test_id("table-row").first
        name = first.locator("td").nth(1).inner_text()
        first.click()
        expect(page.get_by_test_id("flyout")).to_be_visible()
        expect(page.get_by_test_id("software-name")).to_have_text(name)
        expect(page).to_have_url(re.compile(r"[?&]item=[^&]+"))
        link = page.url
        page.get_by_test_id("flyout-close").click()
        expect(page.get_by_test_id("flyout")).to_have_count(0)
        page.go_back()
        expect(page.get_by_test_id("software-name")).to_have_text(name)

        pasted = new_page()
        sign_in(pasted, stack)
        pasted.goto(link)
        expect(pasted.get_by_test_id("software-name")).to_have_text(name)
        expect(pasted.get_by_test_id("tab-software")).to_have_attribute("aria-selected", "true")
    finally:
        stop(agent)


def test_markup_from_an_enrolling_agent_renders_as_text(page: Page, stack: Stack) -> None:
    import httpx

    token = stack.server.cli("enroll-token", "create").strip()
    enrolled = httpx.post(
        f"{stack.url}/api/agent/enroll",
        json={
            "enroll_token": token,
            "agent_version": "test",
            "host": {"hostname": HOSTILE, "os_family": "linux", "os_name": HOSTILE},
        },
    ).json()

    sign_in(page, stack)
    expect(page.get_by_test_id("table-row").filter(has_text=HOSTILE)).to_have_count(1)
    page.goto(f"{stack.url}/devices/{enrolled['device_id']}")

    expect(page.get_by_test_id("detail-hostname")).to_have_text(HOSTILE)
    assert page.locator("img[src='x']").count() == 0
