"""The timeline tab of a device imported from a real Sysmon log: the chart's window narrows
the list, the range, kind and text filters, keyset pages, the flyout with the process tree
and the original fields (also from a pasted link), and the CSV export of the range."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import Engine

from hostwatch.db.engine import make_session_factory, transaction
from hostwatch.events.store import SqlEventStore
from tests.shared import shared_data

from .conftest import PageFactory, Stack, screenshot, serious_accessibility_violations, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# 237 records of PC01.example.corp, 2019-03-19 from 17:22 to 23:24 UTC: 175 Sysmon process
# creations (event 1), 37 registry value sets (13) and 25 file creations (11). Between 20:30
# and 21:00 it holds 141 of them (89 process, 31 registry, 21 file), from 20:41:11 on.
SAMPLE = (
    "evtx_attack_samples",
    "Persistence",
    "persistence_sysmon_11_13_1_shime_appfix.evtx",
)
NEWEST = "2019-03-19T23:24:08.294Z"
# osk.exe started by Utilman.exe, itself started by winlogon.exe.
OSK_TIME = "2019-03-19T17:22:24.901Z"
# The range 17:00 to 24:00 UTC, typed as Berlin time (the browser's zone in these tests).
RANGE_FROM_LOCAL = "2019-03-19T18:00:00"
RANGE_TO_LOCAL = "2019-03-20T01:00:00"
RANGE = "from=2019-03-19T17:00:00Z&to=2019-03-20T00:00:00Z"

DASH = "\N{EN DASH}"  # the pager writes ranges such as "1 to 30" with it
HOSTILE_USER = "<img src=x onerror=alert(1)>"
HOSTILE_COMMAND = "=cmd|' /C calc'!A0"


def engine_name(db_url: str) -> str:
    return "sqlite" if db_url.startswith("sqlite") else "postgresql"


def rows(page: Page) -> Locator:
    return page.get_by_test_id("table-row")


def row_time(row: Locator) -> datetime:
    return datetime.fromisoformat(row.locator("time").first.get_attribute("datetime") or "")


def query(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def url_time(page: Page, name: str) -> datetime:
    return datetime.fromisoformat(query(page)[name][0])


def import_sample(stack: Stack) -> None:
    summary = json.loads(stack.server.cli("import", "evtx", str(shared_data(*SAMPLE)), "--json"))
    assert (summary["status"], summary["stored"], summary["devices_created"]) == (
        "complete",
        237,
        1,
    )


def open_timeline(page: Page, stack: Stack) -> str:
    """From the device list to PC01's timeline tab; returns the device's id."""
    sign_in(page, stack)
    page.get_by_test_id("device-search").fill("PC01")
    row = rows(page).filter(has_text="PC01")
    expect(row).to_have_count(1)
    row.click()
    expect(page.get_by_test_id("device-name")).to_have_text("PC01")
    device_id = urlsplit(page.url).path.rsplit("/", 1)[-1]
    page.get_by_test_id("tab-timeline").click()
    return device_id


def add_hostile_event(engine: Engine, device_id: str) -> None:
    """An event whose values a browser or a spreadsheet would run, were they not escaped."""
    row = {
        "device_id": device_id,
        "dedupe_key": "test:hostile",
        "time": datetime(2019, 3, 19, 20, 35, tzinfo=UTC),
        "source": "test",
        "kind": "process",
        "action_type": "ProcessCreated",
        "user": HOSTILE_USER,
        "process_image": r"C:\Temp\evil.exe",
        "process_command_line": HOSTILE_COMMAND,
        "parent_process_image": r"C:\Windows\explorer.exe",
        "fields": {"EventData": {"CommandLine": HOSTILE_COMMAND, "User": HOSTILE_USER}},
    }
    with transaction(make_session_factory(engine)) as session:
        SqlEventStore().add_many(session, [row])


def drag_window_edge(page: Page, edge: str, to: datetime) -> None:
    """Drag the chart window's left or right edge to a time, with the mouse."""
    chart = page.get_by_test_id("timeline-chart")
    expect(chart).to_have_attribute("data-axis-right", re.compile(r"^\d"))
    box = chart.bounding_box()
    assert box is not None
    left = float(chart.get_attribute("data-axis-left") or 0)
    right = float(chart.get_attribute("data-axis-right") or 0)
    params = query(page)
    start = datetime.fromisoformat(params.get("chart_from", params["from"])[0])
    end = datetime.fromisoformat(params.get("chart_to", params["to"])[0])

    def x_of(moment: datetime) -> float:
        return box["x"] + left + (moment - start) / (end - start) * (right - left)

    attribute = "data-window-from" if edge == "left" else "data-window-to"
    at = x_of(datetime.fromisoformat(chart.get_attribute(attribute) or ""))
    # The resize handles lie just inside the window's edges: grab there, and keep the offset.
    inside = 3 if edge == "left" else -3
    y = box["y"] + box["height"] / 2
    page.mouse.move(at + inside, y)
    page.mouse.down()
    page.mouse.move(x_of(to) + inside, y, steps=12)
    page.mouse.up()


def test_timeline_chart_window_filters_pages_and_export(
    page: Page, stack: Stack, engine: Engine, db_url: str
) -> None:
    import_sample(stack)
    device_id = open_timeline(page, stack)
    add_hostile_event(engine, device_id)

    # Without a range, the 7 days up to the newest event, newest first, 30 a page.
    expect(page).to_have_url(
        f"{stack.url}/devices/{device_id}?tab=timeline"
        "&from=2019-03-12T23%3A24%3A09Z&to=2019-03-19T23%3A24%3A09Z"
    )
    expect(rows(page)).to_have_count(30)
    expect(rows(page).first.locator("time")).to_have_attribute("datetime", NEWEST)
    expect(page.get_by_test_id("table-count")).to_have_text(f"Events 1{DASH}30, more follow")
    page.get_by_test_id("page-next").click()
    expect(page.get_by_test_id("page-number")).to_have_text("Page 2")
    expect(page.get_by_test_id("table-count")).to_have_text(f"Events 31{DASH}60, more follow")
    assert query(page)["page"] == ["2"] and "cursor" in query(page)
    assert row_time(rows(page).first) < datetime.fromisoformat(NEWEST)
    page.get_by_test_id("page-previous").click()
    expect(rows(page).first.locator("time")).to_have_attribute("datetime", NEWEST)
    assert "cursor" not in query(page)

    # A range typed in local time.
    page.get_by_test_id("range-from").fill(RANGE_FROM_LOCAL)
    page.get_by_test_id("range-to").fill(RANGE_TO_LOCAL)
    page.get_by_test_id("range-apply").click()
    page.wait_for_url(lambda url: url.endswith(RANGE.replace(":", "%3A")))
    chart = page.get_by_test_id("timeline-chart")
    expect(chart).to_have_attribute("data-window-from", "2019-03-19T17:00:00.000Z")
    expect(page.get_by_test_id("timeline-chart-totals")).to_contain_text("registry")

    # The chart's window, dragged by its edges, narrows the list to 20:30 .. 21:00.
    drag_window_edge(page, "right", datetime(2019, 3, 19, 21, tzinfo=UTC))
    page.wait_for_url(lambda url: "chart_to=" in url)
    window_to = url_time(page, "to")
    assert abs(window_to - datetime(2019, 3, 19, 21, tzinfo=UTC)) < timedelta(minutes=1)
    assert query(page)["chart_from"] == ["2019-03-19T17:00:00Z"]
    expect(page.get_by_test_id("timeline-window")).to_contain_text("Listing")
    # The newest event before 21:00.
    expect(rows(page).first.locator("time")).to_have_attribute(
        "datetime", "2019-03-19T20:58:44.237Z"
    )
    drag_window_edge(page, "left", datetime(2019, 3, 19, 20, 30, tzinfo=UTC))
    page.wait_for_url(lambda url: "&from=2019-03-19T17" not in url)
    window_from = url_time(page, "from")
    assert abs(window_from - datetime(2019, 3, 19, 20, 30, tzinfo=UTC)) < timedelta(minutes=1)
    assert query(page)["to"] == [window_to.isoformat().replace("+00:00", "Z")]
    page.get_by_test_id("column-time").click()
    page.wait_for_url(lambda url: "order=oldest" in url)
    # The oldest event after 20:30 is the added one; its values are text, never markup.
    expect(rows(page).first.locator("time")).to_have_attribute(
        "datetime", "2019-03-19T20:35:00.000Z"
    )
    expect(rows(page).first).to_contain_text(HOSTILE_USER)
    expect(rows(page).first).to_contain_text(HOSTILE_COMMAND)
    rows(page).first.click()
    expect(page.get_by_test_id("field-EventData.User")).to_have_text(HOSTILE_USER)
    expect(page.get_by_test_id("process-tree").locator('[data-node-role="user"]')).to_contain_text(
        HOSTILE_USER
    )
    page.get_by_test_id("flyout-close").click()
    expect(rows(page).nth(1).locator("time")).to_have_attribute(
        "datetime", "2019-03-19T20:41:11.238Z"
    )

    # A kind filter, over two keyset pages; Back takes it off.
    page.get_by_test_id("filter-kinds").click()
    page.get_by_test_id("kind-option-registry").click()
    page.keyboard.press("Escape")
    page.wait_for_url(lambda url: "kinds=registry" in url)
    expect(page.get_by_test_id("table-count")).to_have_text(f"Events 1{DASH}30, more follow")
    expect(rows(page).filter(has_text="RegistryValueSet")).to_have_count(30)
    page.get_by_test_id("page-next").click()
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_contain_text("RegistryValueSet")
    page.go_back()
    page.go_back()
    page.wait_for_url(lambda url: "kinds=" not in url)
    expect(rows(page).filter(has_text="ProcessCreated").first).to_be_visible()
    screenshot(page, f"timeline-{engine_name(db_url)}")

    # The export holds every event of the window, formula cells neutralized.
    with page.expect_download() as download:
        page.get_by_test_id("timeline-export").click()
    assert download.value.suggested_filename.startswith(f"timeline-{device_id}-")
    text = download.value.path().read_text(encoding="utf-8")
    records = list(csv.DictReader(io.StringIO(text)))
    times = [datetime.fromisoformat(record["time"]) for record in records]
    assert len(records) == 141 + 1
    assert all(window_from <= moment < window_to for moment in times)
    assert {record["kind"] for record in records} == {"process", "registry", "file"}
    hostile_record = next(r for r in records if r["user"] == HOSTILE_USER)
    assert hostile_record["process_command_line"] == "'" + HOSTILE_COMMAND
    expect(page.get_by_test_id("timeline-export-error")).to_have_count(0)

    # Longer than 7 days: the export is refused before it is asked for, and says why.
    page.get_by_test_id("range-preset-30d").click()
    expect(page.get_by_test_id("timeline-export")).to_be_disabled()
    expect(page.get_by_test_id("timeline-export-why")).to_contain_text("at most 7 days")


def test_timeline_flyout_shows_the_process_tree_and_opens_from_a_link(
    new_page: PageFactory, stack: Stack, db_url: str
) -> None:
    import_sample(stack)
    page = new_page()
    device_id = open_timeline(page, stack)
    page.goto(f"{stack.url}/devices/{device_id}?tab=timeline&{RANGE}&order=oldest")

    page.get_by_test_id("timeline-search").fill("utilman")
    page.wait_for_url(lambda url: "q=utilman" in url)
    # Processes of Utilman or started by it, and the file and registry changes it made.
    expect(rows(page)).to_have_count(25)
    osk = rows(page).filter(has=page.locator(f'time[datetime="{OSK_TIME}"]'))
    expect(osk).to_contain_text("parent: Utilman.exe")
    osk.click()

    page.wait_for_url(lambda url: "item=" in url)
    flyout = page.get_by_test_id("event-flyout")
    expect(flyout.get_by_test_id("event-image")).to_have_text(r"C:\Windows\System32\osk.exe")
    expect(flyout.get_by_test_id("event-parent-image")).to_have_text(
        r"C:\Windows\System32\Utilman.exe"
    )
    tree = flyout.get_by_test_id("process-tree")
    ancestors = tree.locator('[data-node-role="ancestor"]')
    expect(ancestors).to_have_count(2)
    expect(ancestors.nth(0)).to_contain_text("winlogon.exe")
    expect(ancestors.nth(1)).to_contain_text("Utilman.exe")
    expect(tree.locator('[data-node-role="focus"]')).to_contain_text("osk.exe")
    expect(tree.locator('[data-node-role="user"]')).to_contain_text(r"EXAMPLE\user01")
    ancestors.nth(1).click()
    expect(flyout.get_by_test_id("tree-detail-command_line")).to_have_text("utilman.exe /debug")
    fields = flyout.get_by_test_id("event-fields")
    expect(fields.get_by_test_id("field-channel")).to_have_text(
        "Microsoft-Windows-Sysmon/Operational"
    )
    expect(fields.get_by_test_id("field-EventData.ParentImage")).to_have_text(
        r"C:\Windows\System32\Utilman.exe"
    )
    link = page.url

    # The link opens the same event in a new page, with the list behind it.
    pasted = new_page()
    sign_in(pasted, stack)
    pasted.goto(link)
    expect(pasted.get_by_test_id("event-image")).to_have_text(r"C:\Windows\System32\osk.exe")
    expect(
        pasted.get_by_test_id("process-tree").locator('[data-node-role="ancestor"]')
    ).to_have_count(2)
    expect(pasted.get_by_test_id("flyout")).to_contain_text("ProcessCreated at 2019-03-19 17:22:24")

    # Closing takes the event out of the address; Back brings it again.
    page.get_by_test_id("flyout-close").click()
    page.wait_for_url(lambda url: "item=" not in url)
    page.go_back()
    expect(page.get_by_test_id("event-parent-image")).to_have_text(
        r"C:\Windows\System32\Utilman.exe"
    )
    screenshot(page, f"timeline-flyout-{engine_name(db_url)}")


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_timeline_passes_axe_with_the_flyout_open(
    new_page: PageFactory, stack: Stack, db_url: str, theme: str
) -> None:
    import_sample(stack)
    page = new_page(color_scheme=theme, bypass_csp=True, viewport={"width": 1680, "height": 1000})
    device_id = open_timeline(page, stack)
    expect(rows(page)).to_have_count(30)
    page.goto(f"{stack.url}/devices/{device_id}?tab=timeline&{RANGE}")
    expect(page.get_by_test_id("timeline-chart")).to_have_attribute(
        "data-axis-right", re.compile(r"^\d")
    )
    tab_problems = serious_accessibility_violations(page)
    screenshot(page, f"timeline-{theme}-{engine_name(db_url)}")
    rows(page).filter(has_text="osk.exe").first.click()
    expect(page.get_by_test_id("process-tree")).to_be_visible()
    flyout_problems = serious_accessibility_violations(page)
    screenshot(page, f"timeline-flyout-{theme}-{engine_name(db_url)}")

    assert tab_problems == [], json.dumps(tab_problems, indent=1)
    assert flyout_problems == [], json.dumps(flyout_problems, indent=1)
