"""The device list: filters, paging, the remembered column choice, roles, honest profiles of
devices known from one source, CSV export and untrusted values, in a real browser."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine

from hostwatch.db.base import utcnow

from .conftest import PageFactory, Stack, add_user, sign_in
from .data import add_device, add_many, directory_device, logs_device, software

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HOSTILE = "<img src=x onerror=alert(1)>"
DASH = "\N{EN DASH}"  # the pager writes ranges such as "1 to 30" with it


def rows(page: Page):
    return page.get_by_test_id("table-row")


def test_device_list_filters_and_opens_a_profile(page: Page, stack: Stack, engine: Engine) -> None:
    web = add_device(engine, "web-01", ["agent"], domain="shop.example", os_family="linux")
    directory_device(engine, "dc-01")
    add_device(engine, "old-01", ["endpoint_logs"], seen_days_ago=45)

    sign_in(page, stack)
    expect(rows(page)).to_have_count(3)
    page.get_by_test_id("filter-known_from").select_option("directory")
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_contain_text("dc-01")
    expect(rows(page).first).to_contain_text("Directory")
    page.get_by_test_id("filter-known_from").select_option("")
    page.get_by_test_id("filter-seen").select_option("over-30d")
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_contain_text("old-01")
    page.get_by_test_id("clear-filters").click()
    page.get_by_test_id("device-search").fill("WEB")
    expect(rows(page)).to_have_count(1)
    expect(page).to_have_url(re.compile(r"[?&]q=WEB(&|$)"))
    page.get_by_test_id("filter-risk").select_option("high")
    expect(page.get_by_test_id("devices-empty")).to_contain_text("No devices match")
    page.go_back()
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_contain_text("Not assessed")
    rows(page).first.click()

    page.wait_for_url(f"{stack.url}/devices/{web}")
    expect(page.get_by_test_id("device-name")).to_have_text("web-01")


def test_device_list_pages_reach_the_last_page(page: Page, stack: Stack, engine: Engine) -> None:
    add_many(engine, 70)

    sign_in(page, stack)
    expect(rows(page)).to_have_count(30)
    expect(page.get_by_test_id("table-count")).to_have_text(f"1{DASH}30 of 70 devices")
    page.get_by_test_id("page-next").click()
    expect(page.get_by_test_id("table-count")).to_have_text(f"31{DASH}60 of 70 devices")
    page.get_by_test_id("page-last").click()

    expect(page.get_by_test_id("page-number")).to_have_text("Page 3 of 3")
    expect(rows(page)).to_have_count(10)
    expect(rows(page).last).to_contain_text("host-069")
    expect(page.get_by_test_id("page-next")).to_be_disabled()
    expect(page).to_have_url(re.compile(r"[?&]page=3(&|$)"))
    page.go_back()
    expect(page.get_by_test_id("table-count")).to_have_text(f"31{DASH}60 of 70 devices")
    page.get_by_test_id("column-name").click()
    expect(rows(page).first).to_contain_text("host-069")
    page.get_by_test_id("page-size").select_option("100")
    expect(rows(page)).to_have_count(70)
    expect(page.get_by_test_id("page-number")).to_have_text("Page 1 of 1")


def test_column_choice_is_remembered_per_user(
    new_page: PageFactory, stack: Stack, engine: Engine
) -> None:
    add_device(engine, "web-01", ["agent"], domain="shop.example")
    add_user(stack, "ana", "analyst")
    page = new_page()
    sign_in(page, stack)
    expect(page.get_by_test_id("column-domain")).to_have_count(1)

    page.get_by_test_id("column-chooser").click()
    with page.expect_response(lambda r: r.url.endswith("/api/me/preferences")) as saved:
        page.get_by_test_id("column-choice-domain").click()
    assert saved.value.status == 200
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("column-domain")).to_have_count(0)
    page.reload()

    expect(rows(page)).to_have_count(1)
    expect(page.get_by_test_id("column-domain")).to_have_count(0)
    expect(page.get_by_test_id("column-os")).to_have_count(1)
    other = new_page()
    sign_in(other, stack, "ana")
    expect(rows(other)).to_have_count(1)
    expect(other.get_by_test_id("column-domain")).to_have_count(1)


def test_manage_tags_is_offered_to_analysts_not_viewers(
    new_page: PageFactory, stack: Stack, engine: Engine
) -> None:
    device = logs_device(engine)
    add_user(stack, "vera", "viewer")
    add_user(stack, "ana", "analyst")

    viewer = new_page()
    sign_in(viewer, stack, "vera")
    expect(viewer.get_by_test_id("row-select")).to_have_count(0)
    viewer.goto(f"{stack.url}/devices/{device}")
    expect(viewer.get_by_test_id("response-actions")).to_contain_text("your role (viewer)")
    expect(viewer.get_by_test_id("action-manage-tags")).to_have_count(0)

    analyst = new_page()
    sign_in(analyst, stack, "ana")
    analyst.get_by_test_id("row-select").check()
    analyst.get_by_test_id("bulk-tag").click()
    analyst.get_by_test_id("bulk-tag-name").fill("review")
    analyst.get_by_test_id("bulk-tag-submit").click()
    expect(analyst.get_by_test_id("bulk-tag-dialog")).to_contain_text("ws-logs: tagged")
    analyst.keyboard.press("Escape")
    expect(rows(analyst).first).to_contain_text("review")
    analyst.goto(f"{stack.url}/devices/{device}")
    analyst.get_by_test_id("action-manage-tags").click()
    analyst.get_by_test_id("new-tag").fill("triage")
    analyst.get_by_test_id("add-tag").click()
    expect(analyst.get_by_test_id("manage-tags-dialog")).to_contain_text("triage")
    analyst.get_by_test_id("manage-tags-done").click()
    expect(analyst.get_by_test_id("sidebar-tags")).to_contain_text("triage")


def test_profiles_say_what_a_device_lacks(page: Page, stack: Stack, engine: Engine) -> None:
    # Devices written to the database directly, for the source mixes the importers do not
    # make yet; a device imported from real EVTX files is in test_imported_device.py.
    dc = directory_device(engine, "dc-01")
    workstation = logs_device(engine, "ws-logs")
    both = add_device(
        engine,
        "app-01",
        ["endpoint_logs", "directory"],
        directory={"distinguished_name": "CN=APP-01,DC=corp,DC=example", "groups": ["Servers"]},
    )
    sign_in(page, stack)

    page.goto(f"{stack.url}/devices/{dc}?tab=software")
    expect(page.get_by_test_id("tab-overview")).to_have_count(1)
    expect(page.get_by_test_id("tab-software")).to_have_count(0)
    expect(page.get_by_test_id("response-actions")).to_contain_text("only from the directory")
    expect(page.get_by_role("button", name="Manage tags")).to_have_count(0)
    expect(page.get_by_test_id("directory-uac")).to_contain_text("SERVER_TRUST_ACCOUNT")
    expect(page.get_by_test_id("directory-groups")).to_contain_text("Domain Controllers")
    expect(page.get_by_test_id("detail-sam")).to_have_text("DC-01$")
    expect(page.get_by_test_id("detail-kernel")).to_have_text("Not collected: no agent")
    expect(page.get_by_test_id("details-no-agent")).to_contain_text("known from the directory")

    page.goto(f"{stack.url}/devices/{workstation}")
    expect(page.get_by_test_id("sidebar-directory")).to_contain_text(
        "Not applicable: this device is not known from the directory"
    )
    expect(page.get_by_test_id("detail-memory")).to_have_text("Not collected: no agent")
    expect(page.get_by_test_id("details-no-agent")).to_contain_text("known from imported logs")
    expect(page.get_by_test_id("action-manage-tags")).to_be_visible()
    page.get_by_test_id("tab-software").click()
    expect(page.get_by_test_id("software-empty")).to_contain_text("Not collected")
    expect(page).to_have_url(re.compile(r"[?&]tab=software(&|$)"))

    page.goto(f"{stack.url}/devices/{both}")
    expect(page.get_by_test_id("known-from").first).to_have_text("Endpoint and directory")
    expect(page.get_by_test_id("tab-software")).to_have_count(1)
    expect(page.get_by_test_id("directory-groups")).to_contain_text("Servers")
    expect(page.get_by_test_id("directory-spns")).to_have_text("None")


def test_device_values_render_as_text(page: Page, stack: Stack, engine: Engine) -> None:
    device = add_device(
        engine,
        HOSTILE,
        ["endpoint_logs"],
        domain=HOSTILE,
        logged_on_users=[{"name": HOSTILE, "source": "utmp"}],
        inventory_collected_at=utcnow(),
        software=[software(HOSTILE, vendor=HOSTILE, install_path=HOSTILE)],
    )

    sign_in(page, stack)
    page.get_by_test_id("device-search").fill("onerror")
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_contain_text(HOSTILE)
    rows(page).first.click()
    page.wait_for_url(re.compile(f"/devices/{device}"))
    expect(page.get_by_test_id("device-name")).to_have_text(HOSTILE)
    expect(page.get_by_test_id("sidebar-users")).to_contain_text(HOSTILE)
    page.get_by_test_id("tab-software").click()
    rows(page).first.click()

    expect(page.get_by_test_id("software-path")).to_have_text(HOSTILE)
    assert page.locator("img[src='x']").count() == 0


def test_csv_download_neutralizes_formulas(page: Page, stack: Stack, engine: Engine) -> None:
    add_device(engine, "=HYPERLINK(1)", ["endpoint_logs"], domain="+corp")

    sign_in(page, stack)
    expect(rows(page)).to_have_count(1)
    with page.expect_download() as download:
        page.get_by_test_id("download-csv").click()
    text = open(download.value.path(), encoding="utf-8").read()  # noqa: SIM115

    header, line = text.splitlines()[:2]
    assert header.startswith("Name,Domain,OS,Health")
    assert line.startswith("'=HYPERLINK(1),'+corp,")
    assert download.value.suggested_filename.startswith("devices-")
