"""An analyst signs in, finds this machine (enrolled by the real agent) and reads its sidebar."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine, select

from hostwatch.devices.models import Device
from tests.integration.procs import start_agent, stop, wait_for

from .conftest import Stack, screenshot, sign_in

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


def test_sign_in_and_see_this_machines_sidebar(
    page: Page, stack: Stack, engine: Engine, tmp_path: Path, db_url: str
) -> None:
    token = stack.server.cli("enroll-token", "create").strip()
    agent = start_agent(stack.server, tmp_path / "agent", token)
    try:
        device_id = wait_for(lambda: _inventoried(engine), 60, "the agent's first inventory")

        sign_in(page, stack)
        row = page.get_by_test_id("device-row").filter(has_text=socket.gethostname())
        expect(row).to_have_count(1)
        row.click()
        page.wait_for_url(f"{stack.url}/devices/{device_id}")

        expect(page.get_by_test_id("detail-hostname")).to_have_text(socket.gethostname())
        expect(page.get_by_test_id("detail-os")).to_contain_text(_os_name())
        for section in ("tags", "security", "details", "network", "directory", "users"):
            expect(page.get_by_test_id(f"sidebar-{section}")).to_be_visible()
        expect(page.get_by_test_id("sidebar-tags")).to_contain_text("source:agent")
        engine_name = "sqlite" if db_url.startswith("sqlite") else "postgresql"
        screenshot(page, f"profile-{engine_name}")
    finally:
        stop(agent)


def test_markup_from_a_device_renders_as_text(page: Page, stack: Stack, engine: Engine) -> None:
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
    expect(page.get_by_test_id("device-row").filter(has_text=HOSTILE)).to_have_count(1)
    page.goto(f"{stack.url}/devices/{enrolled['device_id']}")

    expect(page.get_by_test_id("detail-hostname")).to_have_text(HOSTILE)
    assert page.locator("img[src='x']").count() == 0
