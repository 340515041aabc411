"""A real browser (Debian's Chromium through Playwright) against a real server and agent."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from bench.serverproc import ServerProcess
from playwright.sync_api import Browser, Page, sync_playwright

from hostwatch.api.app import WEB_DIST
from tests.shared import REPO

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts"
ADMIN_PASSWORD = "browser test password"


@dataclass
class Stack:
    server: ServerProcess

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/system-deps (installs Debian's chromium)")
    if not (WEB_DIST / "index.html").exists():
        pytest.fail(
            f"the web app is not built in {WEB_DIST}: run 'npm ci && npm run build' in web/"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(
        viewport={"width": 1400, "height": 900}, timezone_id="Europe/Berlin"
    )
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    yield page
    context.close()
    assert dialogs == [], f"the page opened dialogs (script ran): {dialogs}"


@pytest.fixture
def stack(db_url: str, tmp_path: Path) -> Iterator[Stack]:
    server = ServerProcess(tmp_path / "server", database_url=db_url)
    server.cli(
        "users",
        "create",
        "admin",
        "--role",
        "admin",
        "--password-stdin",
        stdin=ADMIN_PASSWORD + "\n",
    )
    server.start()
    yield Stack(server=server)
    server.stop()


def sign_in(page: Page, stack: Stack, user: str = "admin", password: str = ADMIN_PASSWORD) -> None:
    page.goto(f"{stack.url}/devices")
    page.get_by_test_id("login-username").fill(user)
    page.get_by_test_id("login-password").fill(password)
    page.get_by_test_id("login-submit").click()
    page.wait_for_url(f"{stack.url}/devices")


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
