"""A real browser (Debian's Chromium through Playwright) against a real server and agent."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from bench.serverproc import ServerProcess
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from hostwatch.api.app import WEB_DIST
from tests.shared import REPO

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts"
ADMIN_PASSWORD = "browser test password"
AXE = REPO / "web" / "node_modules" / "axe-core" / "axe.min.js"


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


PageFactory = Callable[..., Page]


@pytest.fixture
def new_page(browser: Browser) -> Iterator[PageFactory]:
    """Pages in fresh browser contexts (own cookies); any script dialog fails the test.

    `color_scheme="dark"` shows the dark theme; `bypass_csp=True` lets a test inject axe-core,
    which the server's Content-Security-Policy would otherwise refuse as an inline script.
    """
    contexts: list[BrowserContext] = []
    dialogs: list[str] = []

    def make(**options: Any) -> Page:
        defaults: dict[str, Any] = {
            "viewport": {"width": 1400, "height": 900},
            "timezone_id": "Europe/Berlin",
            "accept_downloads": True,
        }
        context = browser.new_context(**{**defaults, **options})
        contexts.append(context)
        page = context.new_page()
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        return page

    yield make
    for context in contexts:
        context.close()
    assert dialogs == [], f"the page opened dialogs (script ran): {dialogs}"


@pytest.fixture
def page(new_page: PageFactory) -> Page:
    return new_page()


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


def add_user(stack: Stack, name: str, role: str) -> None:
    """A user whose password is ADMIN_PASSWORD, made with the real CLI."""
    stack.server.cli(
        "users", "create", name, "--role", role, "--password-stdin", stdin=ADMIN_PASSWORD + "\n"
    )


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


def serious_accessibility_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical findings on the page once its animations have settled.

    A flyout fades in: judged half-way, its text is a blend of its colour and the page's,
    which is neither what the user reads nor a stable result.
    """
    page.add_script_tag(path=str(AXE))
    found: list[dict[str, Any]] = page.evaluate(
        """async () => {
            await Promise.all(document.getAnimations().map((a) => a.finished.catch(() => null)));
            const result = await axe.run(document, { resultTypes: ['violations'] });
            return result.violations.map((v) => ({
                id: v.id,
                impact: v.impact,
                help: v.help,
                nodes: v.nodes.slice(0, 5).map((n) => ({
                    target: n.target.join(' '),
                    html: n.html.slice(0, 200),
                    why: n.failureSummary,
                })),
            }));
        }"""
    )
    return [v for v in found if v["impact"] in ("serious", "critical")]
