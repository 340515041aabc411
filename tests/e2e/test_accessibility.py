"""axe-core finds no serious or critical problem on the device list and the machine profile,
in the light and the dark theme; the screenshots of both land in test-artifacts/."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import Engine

from .conftest import PageFactory, Stack, screenshot, serious_accessibility_violations, sign_in
from .data import add_device, add_many, directory_device, logs_device, software

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_pages_pass_axe_in_both_themes(
    new_page: PageFactory, stack: Stack, engine: Engine, db_url: str, theme: str
) -> None:
    device = add_device(
        engine,
        "app-01",
        ["endpoint_logs", "directory"],
        fqdn="app-01.corp.example",
        domain="corp.example",
        os_family="windows",
        os_name="Windows Server 2022",
        ip_addresses=["10.20.0.15"],
        sam_name="APP-01$",
        directory={"distinguished_name": "CN=APP-01,DC=corp,DC=example", "groups": ["Servers"]},
        software=[software(f"package-{i}") for i in range(5)],
    )
    directory_device(engine)
    logs_device(engine)
    add_many(engine, 4, prefix="web")
    # As wide as an analyst's screen, so the screenshots show the whole list.
    page = new_page(color_scheme=theme, bypass_csp=True, viewport={"width": 1680, "height": 1000})
    engine_name = "sqlite" if db_url.startswith("sqlite") else "postgresql"

    sign_in(page, stack)
    expect(page.get_by_test_id("table-row")).to_have_count(7)
    list_problems = serious_accessibility_violations(page)
    screenshot(page, f"device-list-{theme}-{engine_name}")
    page.goto(f"{stack.url}/devices/{device}")
    expect(page.get_by_test_id("device-name")).to_have_text("app-01")
    profile_problems = serious_accessibility_violations(page)
    screenshot(page, f"profile-{theme}-{engine_name}")
    page.get_by_test_id("tab-software").click()
    page.get_by_test_id("table-row").first.click()
    expect(page.get_by_test_id("software-path")).to_be_visible()
    flyout_problems = serious_accessibility_violations(page)
    screenshot(page, f"software-flyout-{theme}-{engine_name}")

    assert list_problems == []
    assert profile_problems == []
    assert flyout_problems == []
