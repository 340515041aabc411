"""A device with a vulnerable pip package, matched against the shared OSV PyPI advisories and
the CISA KEV catalog imported with the real CLI: its recommendation, flyout, exception and
exposure, in a real browser."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import Engine

from hostwatch.db.engine import make_session_factory, transaction
from hostwatch.vulns import findings
from tests.shared import shared_data

from .conftest import PageFactory, Stack, screenshot, serious_accessibility_violations, sign_in
from .data import add_device

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# A virtual environment pip manages (a distribution's dist-packages is told to use apt).
SITE_PACKAGES = "/srv/salt/venv/lib/python3.11/site-packages"


def test_recommendation_flyout_exception_and_exposure(
    new_page: PageFactory, stack: Stack, engine: Engine, db_url: str
) -> None:
    stack.server.cli(
        "feeds",
        "import",
        str(shared_data("osv_pypi", "vulns", "salt")),
        str(shared_data("cisa_kev", "known_exploited_vulnerabilities.json")),
    )
    # Salt 3000.1: CVE-2020-11651 and CVE-2020-11652 (in KEV) and two dozen more.
    device_id = add_device(
        engine,
        "salt-master",
        ["agent"],
        os_family="linux",
        os_name="Debian GNU/Linux 12 (bookworm)",
        os_version="12",
        software=[
            {"source": "pip", "name": "salt", "version": "3000.1", "install_path": SITE_PACKAGES}
        ],
    )
    with transaction(make_session_factory(engine)) as session:
        findings.refresh_device(session, device_id)

    # axe-core is injected as an inline script, which the server's CSP refuses otherwise.
    page = new_page(bypass_csp=True)
    sign_in(page, stack)
    page.goto(f"{stack.url}/devices/{device_id}")
    sidebar = page.get_by_test_id("security-exposure")
    expect(sidebar).to_contain_text("High")
    score = sidebar.get_by_test_id("exposure-score")
    expect(score).to_have_text("99 / 100")
    sidebar.get_by_text("from 26 findings (3 exploited)").click()
    expect(sidebar.get_by_test_id("exposure-drivers")).to_contain_text(
        "CVE-2020-11651 in salt 3000.1 (CVSS unknown, exploited)"
    )

    page.get_by_role("tab", name="Security recommendations").click()
    row = page.get_by_test_id("table-row").filter(has_text="Update salt to 3005.2")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("26")
    expect(row).to_contain_text("Exploited")
    expect(row).to_contain_text("Active")
    row.click()

    flyout = page.get_by_test_id("recommendation-flyout")
    expect(flyout.get_by_test_id("recommendation-fixed")).to_have_text("3005.2")
    expect(flyout.get_by_test_id("recommendation-installed")).to_have_text("3000.1")
    expect(flyout.get_by_test_id("recommendation-steps")).to_contain_text(
        f"In {SITE_PACKAGES}: python -m pip install 'salt>=3005.2'"
    )
    expect(flyout.get_by_test_id("recommendation-weaknesses")).to_contain_text(
        "CVE-2020-11651: No CVSS, exploited, fixed in 3000.2"
    )
    expect(flyout.get_by_test_id("recommendation-reduction")).to_have_text("-99 points")
    assert serious_accessibility_violations(page) == []

    flyout.get_by_test_id("recommendation-file-exception").click()
    dialog = page.get_by_test_id("exception-dialog")
    dialog.get_by_test_id("exception-save").click()
    expect(dialog).to_contain_text("Give a justification for the exception.")
    dialog.get_by_test_id("exception-justification").fill("Lab master, isolated network")
    dialog.get_by_test_id("exception-save").click()
    expect(dialog).to_have_count(0)
    expect(flyout.get_by_test_id("recommendation-status")).to_have_text("Exception")
    expect(flyout.get_by_test_id("exception-shown-justification")).to_have_text(
        "Lab master, isolated network"
    )
    assert serious_accessibility_violations(page) == []
    screenshot(page, f"recommendation-exception-{db_url.split(':')[0].split('+')[0]}")

    page.get_by_test_id("flyout-close").click()
    expect(flyout).to_have_count(0)
    expect(row).to_contain_text("Exception")
    page.get_by_test_id("filter-recommendation-status").select_option("active")
    expect(page.get_by_test_id("recommendations-empty")).to_contain_text("No recommendations match")
    expect(sidebar).to_contain_text("Low")
    expect(score).to_have_text("0 / 100")
    expect(sidebar).to_contain_text("26 under an exception not counted")

    page.get_by_role("tab", name="Overview").click()
    overview = page.get_by_test_id("overview-exposure")
    expect(overview).to_contain_text("Low")
    expect(overview).to_contain_text("0 / 100")

    # The device list's filter reads the level stored with the recommendations.
    page.goto(f"{stack.url}/devices?exposure=low")
    listed = page.get_by_test_id("table-row")
    expect(listed).to_have_count(1)
    expect(listed.first).to_contain_text("salt-master")
    expect(listed.first).to_contain_text("Low")
