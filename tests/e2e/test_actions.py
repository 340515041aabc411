"""Response actions in a real browser against a real server: a responder isolates a device and
sees the request waiting for the device, cancels it and finds it audited; the device reads
isolated only once its agent (the real agent protocol, driven by the test) verifies it; an
analyst finds containment disabled with the role it needs; bulk tags and the tag filter; axe
on the action pages in both themes."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine

from hostwatch.db.base import utcnow

from .conftest import (
    ADMIN_PASSWORD,
    PageFactory,
    Stack,
    add_user,
    screenshot,
    serious_accessibility_violations,
    sign_in,
)
from .data import logs_device

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HOSTILE = "<img src=x onerror=alert(1)>"


class Agent:
    """A device enrolled over the agent protocol; the test speaks for its agent."""

    def __init__(self, stack: Stack, hostname: str) -> None:
        token = stack.server.cli("enroll-token", "create").strip()
        enrolled = httpx.post(
            f"{stack.url}/api/agent/enroll",
            json={
                "enroll_token": token,
                "agent_version": "test",
                "host": {"hostname": hostname, "os_family": "linux"},
            },
        )
        assert enrolled.status_code == 200, enrolled.text
        self.url = stack.url
        self.device_id = str(enrolled.json()["device_id"])
        self.headers = {"Authorization": f"Bearer {enrolled.json()['credential']}"}

    def heartbeat(self, containment: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """One heartbeat; returns the actions the server hands over (and marks delivered)."""
        body: dict[str, Any] = {"agent_version": "test", "sent_at": utcnow().isoformat()}
        if containment is not None:
            body["containment"] = {"checked_at": utcnow().isoformat(), **containment}
        answer = httpx.post(f"{self.url}/api/agent/heartbeat", headers=self.headers, json=body)
        assert answer.status_code == 200, answer.text
        return list(answer.json()["actions"])

    def report(self, action_id: str, state: str, **fields: Any) -> None:
        answer = httpx.post(
            f"{self.url}/api/agent/actions/{action_id}/report",
            headers=self.headers,
            json={"state": state, "at": utcnow().isoformat(), **fields},
        )
        assert answer.status_code == 200, answer.text


def audit_entries(stack: Stack, action: str) -> list[dict[str, Any]]:
    """The audit log's entries of one kind, read by the admin through the API."""
    with httpx.Client(base_url=stack.url) as client:
        login = client.post(
            "/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
        )
        assert login.status_code == 200, login.text
        answer = client.get("/api/audit", params={"action": action})
        assert answer.status_code == 200, answer.text
        return list(answer.json())


def rows(page: Page):
    return page.get_by_test_id("table-row")


def request_isolation(page: Page, comment: str) -> None:
    page.get_by_test_id("action-isolate").click()
    dialog = page.get_by_test_id("isolate-dialog")
    expect(dialog).to_be_visible()
    page.get_by_test_id("action-comment").fill(comment)
    page.get_by_test_id("action-submit").click()
    expect(dialog).to_have_count(0)


def test_responder_requests_isolation_sees_it_waiting_and_cancels_it(
    page: Page, stack: Stack
) -> None:
    agent = Agent(stack, "web-01")
    add_user(stack, "rita", "responder")
    sign_in(page, stack, "rita")
    page.goto(f"{stack.url}/devices/{agent.device_id}")

    # A containment action is refused without a reason, in the page, before any request.
    page.get_by_test_id("action-isolate").click()
    page.get_by_test_id("action-submit").click()
    expect(page.get_by_test_id("isolate-dialog")).to_contain_text("Say why")
    page.get_by_test_id("action-comment").fill("beaconing to a known C2 address")
    page.get_by_test_id("action-submit").click()
    expect(page.get_by_test_id("isolate-dialog")).to_have_count(0)

    pending = page.get_by_test_id("pending-action")
    expect(pending).to_have_text(re.compile("Isolation requested — waiting for the device"))
    expect(page.get_by_test_id("containment-isolation")).to_have_text("Not reported yet")
    expect(page.get_by_test_id("isolation-banner")).to_have_count(0)
    expect(page.get_by_test_id("action-isolate")).to_be_disabled()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Action center").click()
    page.wait_for_url(f"{stack.url}/actions")
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_contain_text("Isolate device")
    expect(rows(page).first).to_contain_text("web-01")
    expect(rows(page).first.get_by_test_id("action-state")).to_have_text("Requested")
    expect(rows(page).first).to_contain_text("waiting for the device")
    rows(page).first.click()
    flyout = page.get_by_test_id("action-flyout")
    expect(flyout.get_by_test_id("action-waiting")).to_have_text(
        "Isolation requested — waiting for the device"
    )
    expect(flyout.get_by_test_id("action-comment-text")).to_have_text(
        "beaconing to a known C2 address"
    )
    expect(flyout.get_by_test_id("action-parameters")).to_contain_text('"mode": "full"')
    expect(flyout.get_by_test_id("action-timeline")).to_contain_text(
        "Delivered to the device: not yet"
    )
    action_id = re.search(r"[?&]item=([^&]+)", page.url).group(1)  # type: ignore[union-attr]
    page.get_by_test_id("cancel-comment").fill("wrong device")
    page.get_by_test_id("cancel-action").click()

    expect(flyout.get_by_test_id("action-state")).to_have_text("Cancelled")
    expect(flyout.get_by_test_id("action-message")).to_have_text("wrong device")
    expect(flyout.get_by_test_id("action-timeline")).to_contain_text("by rita")
    expect(flyout.get_by_test_id("cancel-action")).to_have_count(0)
    expect(rows(page).first.get_by_test_id("action-state")).to_have_text("Cancelled")
    page.get_by_test_id("flyout-close").click()
    page.get_by_test_id("filter-action-state").select_option("requested")
    expect(page.get_by_test_id("actions-empty")).to_contain_text("No actions match")
    expect(page).to_have_url(re.compile(r"[?&]state=requested(&|$)"))
    page.go_back()
    expect(rows(page)).to_have_count(1)
    cancels = audit_entries(stack, "action.cancel")
    assert [(e["actor"], e["target"]) for e in cancels] == [("rita", action_id)]
    requests = audit_entries(stack, "action.request")
    assert [(e["actor"], e["target"]) for e in requests] == [("rita", action_id)]
    # The profile no longer lists it as on its way, and isolation can be asked for again.
    page.goto(f"{stack.url}/devices/{agent.device_id}")
    expect(page.get_by_test_id("pending-action")).to_have_count(0)
    expect(page.get_by_test_id("action-isolate")).to_be_enabled()
    # Restriction: a malformed hash is named before anything is sent.
    page.get_by_test_id("action-restrict-app").click()
    page.get_by_test_id("restrict-scope").fill("/opt/tools\n/srv/apps")
    page.get_by_test_id("restrict-sha256").fill("deadbeef")
    page.get_by_test_id("restrict-paths").fill("/opt/tools/scanner")
    page.get_by_test_id("action-comment").fill("stop the dropper")
    page.get_by_test_id("action-submit").click()
    expect(page.get_by_test_id("restrict-dialog")).to_contain_text("“deadbeef” is not a SHA-256")
    page.get_by_test_id("restrict-sha256").fill("AB" * 32)
    page.get_by_test_id("action-submit").click()
    expect(page.get_by_test_id("pending-action")).to_have_text(
        re.compile("App restriction requested — waiting for the device")
    )
    expect(page.get_by_test_id("containment-restriction")).to_have_text("Not reported yet")
    # The agent gets the scope as typed, the hash lower-cased.
    [delivered] = agent.heartbeat()
    assert delivered["type"] == "restrict_app_execution"
    assert delivered["parameters"] == {
        "allow_sha256": ["ab" * 32],
        "allow_paths": ["/opt/tools/scanner"],
        "scope": ["/opt/tools", "/srv/apps"],
    }


def test_device_reads_isolated_only_once_its_agent_verifies_it(page: Page, stack: Stack) -> None:
    agent = Agent(stack, "db-01")
    add_user(stack, "rita", "responder")
    sign_in(page, stack, "rita")
    page.goto(f"{stack.url}/devices/{agent.device_id}")
    page.get_by_test_id("action-isolate").click()
    page.get_by_test_id("isolation-mode").get_by_text("Selective").click()
    page.get_by_test_id("isolation-users").fill("postfix\n1001")
    page.get_by_test_id("isolation-cgroups").fill("system.slice/postfix.service")
    page.get_by_test_id("action-comment").fill("ransomware note found")
    page.get_by_test_id("action-submit").click()
    expect(page.get_by_test_id("pending-action")).to_contain_text("Isolation requested")

    delivered = agent.heartbeat()
    assert [(a["type"], a["parameters"]["mode"]) for a in delivered] == [("isolate", "selective")]
    assert delivered[0]["parameters"]["allow_users"] == ["postfix", "1001"]
    page.reload()
    expect(page.get_by_test_id("pending-action")).to_have_text(
        re.compile("Isolation delivered — waiting for the device to apply it")
    )
    agent.report(delivered[0]["id"], "running", message="applying the nftables table")
    agent.report(
        delivered[0]["id"],
        "succeeded",
        evidence={"table": "inet hostwatch_isolation", "note": HOSTILE},
    )
    # Reported done, but the device has not said what it reads back from the kernel yet.
    page.reload()
    expect(page.get_by_test_id("isolation-banner")).to_have_count(0)
    expect(page.get_by_test_id("containment-isolation")).to_have_text("Not reported yet")
    agent.heartbeat({"isolated": True, "isolation_mode": "selective"})
    page.reload()

    expect(page.get_by_test_id("isolation-banner")).to_contain_text("Isolated (selective)")
    expect(page.get_by_test_id("containment-isolation")).to_have_text("Isolated (selective)")
    expect(page.get_by_test_id("sidebar-tags")).to_contain_text("isolation:isolated")
    expect(page.get_by_test_id("action-isolate")).to_be_disabled()
    expect(page.get_by_test_id("action-release-isolation")).to_be_enabled()
    page.get_by_test_id("action-manage-tags").click()
    expect(page.get_by_test_id("manage-tags-system")).to_contain_text("isolation:isolated")
    expect(page.get_by_role("button", name="Remove tag isolation:isolated")).to_have_count(0)
    page.get_by_test_id("manage-tags-done").click()
    page.get_by_test_id("action-action-center").click()
    expect(page).to_have_url(re.compile(r"[?&]tab=actions(&|$)"))
    expect(rows(page).first.get_by_test_id("action-state")).to_have_text("Succeeded")
    rows(page).first.click()
    evidence = page.get_by_test_id("action-evidence")
    expect(evidence).to_contain_text('"note": "<img src=x onerror=alert(1)>"')
    assert page.locator("img[src='x']").count() == 0
    expect(page.get_by_test_id("action-timeline")).to_contain_text("Started on the device")
    page.get_by_test_id("flyout-close").click()
    # Release asked for: the device stays shown isolated until its agent says otherwise.
    page.get_by_test_id("tab-overview").click()
    page.get_by_test_id("action-release-isolation").click()
    page.get_by_test_id("action-comment").fill("clean after reimaging")
    page.get_by_test_id("action-submit").click()
    expect(page.get_by_test_id("pending-action")).to_have_text(
        re.compile("Release from isolation requested — waiting for the device")
    )
    expect(page.get_by_test_id("isolation-banner")).to_be_visible()
    page.get_by_test_id("action-action-center").click()
    page.get_by_role("link", name="Open in the action center").click()
    page.wait_for_url(f"{stack.url}/actions?device={agent.device_id}")
    expect(page.get_by_test_id("filter-device")).to_have_text("Device: db-01")
    expect(rows(page)).to_have_count(2)
    expect(rows(page).first).to_contain_text("Release from isolation")
    page.goto(f"{stack.url}/devices")
    row = rows(page).filter(has_text="db-01")
    expect(row.get_by_test_id("device-containment")).to_have_text("Isolated")


def test_analyst_finds_containment_disabled_with_the_role_it_needs(
    new_page: PageFactory, stack: Stack
) -> None:
    agent = Agent(stack, "ws-07")
    add_user(stack, "ana", "analyst")
    add_user(stack, "rita", "responder")
    token = stack.server.cli("tokens", "create", "--user", "rita").strip()
    asked = httpx.post(
        f"{stack.url}/api/devices/{agent.device_id}/actions",
        headers={"Authorization": f"Bearer {token}"},
        json={"type": "isolate", "parameters": {"mode": "full"}, "comment": "lateral movement"},
    )
    assert asked.status_code == 201, asked.text
    page = new_page()
    sign_in(page, stack, "ana")
    page.goto(f"{stack.url}/devices/{agent.device_id}")

    isolate = page.get_by_test_id("action-isolate")
    expect(isolate).to_be_disabled()
    expect(isolate).to_have_attribute(
        "data-disabled-reason", "Needs the responder role or higher; you are an analyst."
    )
    isolate.hover()
    expect(page.get_by_role("tooltip")).to_have_text(
        "Needs the responder role or higher; you are an analyst."
    )
    expect(page.get_by_test_id("action-restrict-app")).to_be_disabled()
    expect(page.get_by_test_id("action-manage-tags")).to_be_enabled()
    page.goto(f"{stack.url}/actions?item={asked.json()['id']}")
    expect(page.get_by_test_id("cancel-not-allowed")).to_contain_text("responder role")
    expect(page.get_by_test_id("cancel-action")).to_have_count(0)


def test_bulk_tags_on_two_devices_then_filter_by_the_tag(
    page: Page, stack: Stack, engine: Engine
) -> None:
    for name in ("ws-a", "ws-b", "ws-c"):
        logs_device(engine, name)
    add_user(stack, "ana", "analyst")
    sign_in(page, stack, "ana")
    expect(rows(page)).to_have_count(3)

    rows(page).filter(has_text="ws-a").get_by_test_id("row-select").check()
    rows(page).filter(has_text="ws-b").get_by_test_id("row-select").check()
    page.get_by_test_id("bulk-tag").click()
    page.get_by_test_id("bulk-tag-name").fill("incident-42")
    page.get_by_test_id("bulk-tag-submit").click()
    results = page.get_by_test_id("bulk-tag-result")
    expect(results).to_have_text(["ws-a: tagged “incident-42”", "ws-b: tagged “incident-42”"])
    page.get_by_test_id("bulk-tag-done").click()
    page.get_by_test_id("filter-tag").fill("incident-42")

    expect(page).to_have_url(re.compile(r"[?&]tag=incident-42(&|$)"))
    expect(rows(page)).to_have_count(2)
    expect(rows(page).filter(has_text="ws-c")).to_have_count(0)
    page.get_by_test_id("select-all").check()
    page.get_by_test_id("bulk-tag").click()
    page.get_by_test_id("bulk-tag-mode").get_by_text("Remove a tag").click()
    page.get_by_test_id("bulk-tag-name").fill("incident-42")
    page.get_by_test_id("bulk-tag-submit").click()
    expect(results).to_have_text(["ws-a: untagged “incident-42”", "ws-b: untagged “incident-42”"])
    page.get_by_test_id("bulk-tag-done").click()
    expect(page.get_by_test_id("devices-empty")).to_contain_text("No devices match")
    # A system tag is Hostwatch's: the server refuses it and no device changes.
    page.get_by_test_id("clear-filters").click()
    expect(rows(page)).to_have_count(3)
    rows(page).first.get_by_test_id("row-select").check()
    page.get_by_test_id("bulk-tag").click()
    page.get_by_test_id("bulk-tag-name").fill("isolation:isolated")
    page.get_by_test_id("bulk-tag-submit").click()
    expect(page.get_by_test_id("bulk-tag-error")).to_contain_text("No device was changed")


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_action_pages_pass_axe_in_both_themes(
    new_page: PageFactory, stack: Stack, db_url: str, theme: str
) -> None:
    agent = Agent(stack, "app-01")
    page = new_page(color_scheme=theme, bypass_csp=True, viewport={"width": 1680, "height": 1000})
    engine_name = "sqlite" if db_url.startswith("sqlite") else "postgresql"
    sign_in(page, stack)
    page.goto(f"{stack.url}/devices/{agent.device_id}")
    request_isolation(page, "axe check")
    delivered = agent.heartbeat()
    agent.report(delivered[0]["id"], "succeeded", evidence={"table": "inet hostwatch_isolation"})
    agent.heartbeat({"isolated": True, "isolation_mode": "full"})
    page.reload()
    expect(page.get_by_test_id("isolation-banner")).to_be_visible()

    profile_problems = serious_accessibility_violations(page)
    screenshot(page, f"profile-isolated-{theme}-{engine_name}")
    page.get_by_test_id("action-release-isolation").click()
    expect(page.get_by_test_id("release-dialog")).to_be_visible()
    dialog_problems = serious_accessibility_violations(page)
    page.keyboard.press("Escape")
    page.goto(f"{stack.url}/actions")
    expect(rows(page)).to_have_count(1)
    list_problems = serious_accessibility_violations(page)
    rows(page).first.click()
    expect(page.get_by_test_id("action-evidence")).to_be_visible()
    flyout_problems = serious_accessibility_violations(page)
    screenshot(page, f"action-flyout-{theme}-{engine_name}")

    assert profile_problems == []
    assert dialog_problems == []
    assert list_problems == []
    assert flyout_problems == []
