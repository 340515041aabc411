"""`hostwatch feeds update` against a feed server on 127.0.0.1 serving the shared feeds:
first and conditional updates, one changed record, a withdrawn advisory, failing sources."""

from __future__ import annotations

import copy
import gzip
import io
import json
import logging
import zipfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from hostwatch.cli import app as cli_app
from hostwatch.db.engine import transaction
from hostwatch.vulns import findings
from hostwatch.vulns.feed_state import FeedSource
from hostwatch.vulns.models import Advisory, Affected, Finding
from tests.shared import shared_data
from tests.vulns.conftest import add_device
from tests.vulns.feed_server import NVD_PATH, Broken, FeedServer, start
from tests.vulns.msrc_api import BASE as MSRC_BASE
from tests.vulns.msrc_api import INDEX as MSRC_INDEX
from tests.vulns.msrc_api import RELEASED, document, document_path, month_list

API_KEY = "nvd-key-5f1c9a77"
OSV_ZIP = "/osv/PyPI/all.zip"
KEV = "/cisa/known_exploited_vulnerabilities.json"
DSA = "/debian/DSA/list"
DLA = "/debian/DLA/list"


@pytest.fixture(scope="session")
def osv_docs() -> dict[str, dict[str, Any]]:
    """The shared PyPI advisories as OSV publishes them in all.zip: one JSON file each."""
    docs = {}
    for path in sorted(shared_data("osv_pypi", "vulns").rglob("*.yaml")):
        # The base loader keeps every value a string, as the importer reads YAML.
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CBaseLoader)  # noqa: S506
        docs[doc["id"]] = doc
    return docs


@pytest.fixture(scope="session")
def nvd_items() -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for path in sorted(shared_data("nvd_cve").glob("*.json.gz")):
        items.extend(json.loads(gzip.decompress(path.read_bytes()))["vulnerabilities"])
    return items


def osv_zip(docs: dict[str, dict[str, Any]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for record_id, doc in docs.items():
            archive.writestr(f"{record_id}.json", json.dumps(doc))
    return buffer.getvalue()


@pytest.fixture
def server(
    osv_docs: dict[str, dict[str, Any]], nvd_items: list[dict[str, Any]]
) -> Iterator[FeedServer]:
    feeds = FeedServer(nvd=list(nvd_items))
    feeds.put(OSV_ZIP, osv_zip(osv_docs))
    feeds.put(KEV, shared_data("cisa_kev", "known_exploited_vulnerabilities.json").read_bytes())
    feeds.put(DSA, shared_data("debian_security_tracker", "DSA", "list").read_bytes())
    feeds.put(DLA, shared_data("debian_security_tracker", "DLA", "list").read_bytes())
    feeds.put(MSRC_INDEX, month_list(RELEASED))
    for month in RELEASED:
        feeds.put(document_path(month), document(month))
    httpd, thread = start(feeds)
    yield feeds
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


Run = Callable[..., Any]


@pytest.fixture
def update(db_url: str, tmp_path: Path, server: FeedServer) -> Run:
    """Runs `hostwatch feeds update ARGS...` with the feed locations pointed at `server`."""
    env = {
        "HOSTWATCH_DATABASE_URL": db_url,
        "HOSTWATCH_DATA_DIR": str(tmp_path / "var"),
        "HOSTWATCH_LOG_LEVEL": "WARNING",
        "HOSTWATCH_FEEDS_OSV_URL": server.url("/osv"),
        "HOSTWATCH_FEEDS_OSV_ECOSYSTEMS": "PyPI",
        "HOSTWATCH_FEEDS_NVD_URL": server.url(NVD_PATH),
        "HOSTWATCH_FEEDS_NVD_API_KEY": API_KEY,
        "HOSTWATCH_FEEDS_NVD_DELAY_SECONDS": "0",
        "HOSTWATCH_FEEDS_NVD_PAGE_SIZE": "1000",
        "HOSTWATCH_FEEDS_KEV_URL": server.url(KEV),
        "HOSTWATCH_FEEDS_DEBIAN_URL": server.url("/debian"),
        "HOSTWATCH_FEEDS_MSRC_URL": server.url(MSRC_BASE),
    }

    def run(*args: str, **overrides: str) -> Any:
        result = CliRunner().invoke(
            cli_app, ["feeds", "update", *args, "--json"], env={**env, **overrides}
        )
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise AssertionError(f"feeds update crashed:\n{result.output}") from result.exception
        return result

    return run


def _summary(result: Any) -> dict[str, Any]:
    return json.loads(result.stdout)


def _sources(summary: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    return {s["source"]: (s["status"], s["message"]) for s in summary["sources"]}


def _count(engine: Engine, *where: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count(Advisory.id)).where(*where)).scalar_one())


def test_first_update_imports_all_and_the_second_gets_304s_and_writes_nothing(
    update: Run, server: FeedServer, engine: Engine, sessions: sessionmaker[Session]
) -> None:
    msrc_months = [f"msrc:{month}" for month in RELEASED]
    first = _summary(update())
    server.requests.clear()
    again_result = update()
    again = _summary(again_result)

    assert first["records_by_feed"] == {
        "osv": 2661,
        "nvd": 4533,
        "kev": 1404,
        "debian": 8939,
        "msrc": 313,
    }
    assert (first["added"], first["updated"], first["withdrawn"]) == (17537 + 313, 0, 10)
    assert {k: v[0] for k, v in _sources(first).items()} == dict.fromkeys(
        ("osv:PyPI", "nvd", "kev", "debian:DSA", "debian:DLA", "msrc", *msrc_months),
        "updated",
    )
    # The tracker's one malformed advisory is skipped, named, and the rest imported; so is
    # the February MSRC vulnerability whose CVE id is misspelt.
    assert first["status"] == "partial"
    assert [p["message"] for f in first["per_file"] for p in f["problems"]] == [
        "skipped: line 17244: DSA-423: 'kernel-image-2.4.17-ia64' is not a Debian version",
        "skipped: a vulnerability with a malformed CVE id 'CVE-2024-21626M'",
    ]
    assert _count(engine) == 17537 + 313
    # Records remember the URL they came from, not a temporary file.
    with sessions() as session:
        source = session.scalar(select(Advisory.source).where(Advisory.record_id == "DSA-5380-1"))
    assert source == server.url(DSA)

    assert (again["added"], again["updated"], again["unchanged"], again["records"]) == (0, 0, 0, 0)
    assert (again["status"], again_result.exit_code) == ("complete", 0)
    assert {k: v[0] for k, v in _sources(again).items()} == {
        "osv:PyPI": "not modified",
        "nvd": "updated",
        "kev": "not modified",
        "debian:DSA": "not modified",
        "debian:DLA": "not modified",
        "msrc": "not modified",
    }
    files = {path: headers for path, headers in server.requests if not path.startswith(NVD_PATH)}
    assert {path: headers["if-none-match"] for path, headers in files.items()} == {
        path: server.etag(path) for path in (OSV_ZIP, KEV, DSA, DLA, MSRC_INDEX)
    }
    (nvd_query, nvd_headers), *more = [r for r in server.requests if r[0].startswith(NVD_PATH)]
    assert "lastModStartDate=" in nvd_query and not more
    assert nvd_headers["apikey"] == API_KEY


def test_nvd_first_run_pages_through_and_sends_the_key_it_never_shows(
    update: Run, server: FeedServer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        result = update("--source", "nvd")

    summary = _summary(result)
    pages = [path for path, _ in server.requests if path.startswith(NVD_PATH)]
    assert summary["records_by_feed"] == {"nvd": 4533}
    assert [p.split("startIndex=")[1].split("&")[0] for p in pages] == [
        "0",
        "1000",
        "2000",
        "3000",
        "4000",
    ]
    assert all(headers["apikey"] == API_KEY for _, headers in server.requests)
    assert API_KEY not in result.output and API_KEY not in caplog.text


def _pypi_device(sessions: sessionmaker[Session], software: list[dict[str, Any]]) -> str:
    device_id, _ = add_device(sessions, software)
    with transaction(sessions) as session:
        findings.refresh_device(session, device_id)
    return device_id


def _device_findings(sessions: sessionmaker[Session], device_id: str) -> dict[int, datetime]:
    with sessions() as session:
        return dict(
            session.execute(
                select(Finding.vulnerability_id, Finding.last_seen).where(
                    Finding.device_id == device_id
                )
            ).all()
        )


def test_a_changed_record_updates_only_it_and_a_withdrawn_one_takes_its_findings(
    update: Run,
    server: FeedServer,
    osv_docs: dict[str, dict[str, Any]],
    nvd_items: list[dict[str, Any]],
    engine: Engine,
    sessions: sessionmaker[Session],
) -> None:
    update("--source", "osv", "--source", "nvd")
    # PYSEC-2021-335: AccessControl before 5.2 (and 4.3); no device has admesh (PYSEC-2022-182).
    concerned = _pypi_device(
        sessions, [{"source": "pip", "name": "AccessControl", "version": "5.1"}]
    )
    bystander = _pypi_device(sessions, [{"source": "pip", "name": "aiohttp", "version": "3.8.4"}])
    concerned_before = _device_findings(sessions, concerned)
    bystander_before = _device_findings(sessions, bystander)

    docs = copy.deepcopy(osv_docs)
    # Both advisories of AccessControl's one vulnerability (they share a GHSA alias).
    for withdrawn in ("PYSEC-2021-335", "PYSEC-2021-370"):
        docs[withdrawn]["withdrawn"] = "2026-12-01T00:00:00Z"
        docs[withdrawn]["modified"] = "2026-12-01T00:00:00Z"
    docs["PYSEC-2022-182"]["details"] = "Changed upstream."
    docs["PYSEC-2022-182"]["modified"] = "2026-12-01T00:00:00Z"
    server.put(OSV_ZIP, osv_zip(docs))
    changed = copy.deepcopy(next(i for i in nvd_items if i["cve"]["id"] == "CVE-2024-0755"))
    changed["cve"]["lastModified"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
    changed["cve"]["descriptions"][0]["value"] = "Changed at NVD."
    server.nvd = [changed if i["cve"]["id"] == "CVE-2024-0755" else i for i in server.nvd]

    summary = _summary(update("--source", "osv", "--source", "nvd"))

    assert (summary["added"], summary["updated"], summary["withdrawn"]) == (0, 4, 2)
    assert summary["unchanged"] == 2661 - 3
    assert summary["records_by_feed"] == {"osv": 2661, "nvd": 1}
    with sessions() as session:
        nvd_summary = session.scalar(
            select(Advisory.summary).where(Advisory.record_id == "CVE-2024-0755")
        )
        kept = session.scalar(
            select(func.count(Affected.id))
            .join(Advisory, Advisory.id == Affected.advisory_id)
            .where(Advisory.record_id == "PYSEC-2021-335")
        )
    assert (nvd_summary, kept) == ("Changed at NVD.", 0)
    # The concerned device lost the withdrawn advisory's finding; the other was not touched.
    assert len(concerned_before) == 1 and _device_findings(sessions, concerned) == {}
    assert bystander_before and _device_findings(sessions, bystander) == bystander_before
    assert summary["rematch"]["devices"] == 1
    assert summary["rematch"]["findings_removed"] == 1


def test_an_advisory_gone_from_the_archive_is_withdrawn(
    update: Run, server: FeedServer, osv_docs: dict[str, dict[str, Any]], engine: Engine
) -> None:
    update("--source", "osv")
    withdrawn_before = _count(engine, Advisory.withdrawn.is_not(None))
    docs = {k: v for k, v in osv_docs.items() if k != "PYSEC-2021-335"}
    server.put(OSV_ZIP, osv_zip(docs))

    summary = _summary(update("--source", "osv"))

    assert (summary["withdrawn"], summary["unchanged"]) == (1, 2660)
    assert _count(engine, Advisory.withdrawn.is_not(None)) == withdrawn_before + 1 == 11
    gone = _count(engine, Advisory.record_id == "PYSEC-2021-335", Advisory.withdrawn.is_not(None))
    assert gone == 1


def test_failing_sources_are_reported_with_their_url_and_the_others_update(
    update: Run, server: FeedServer, engine: Engine, sessions: sessionmaker[Session]
) -> None:
    before = _summary(update("--source", "kev", "--source", "debian:DSA"))
    kev_etag = server.etag(KEV)
    good_zip = server.files[OSV_ZIP]
    server.put(OSV_ZIP, good_zip[: len(good_zip) // 2])
    server.broken[NVD_PATH] = Broken(500, b"internal error")
    server.put(KEV, b'{"catalogVersion": "2026.12.04", "vulnerabilities": [')
    server.broken[DSA] = Broken(302, location="http://127.0.0.2:9/elsewhere/list?token=abc")

    result = update()

    summary = _summary(result)
    sources = _sources(summary)
    assert (result.exit_code, summary["status"]) == (3, "partial")
    assert sources["debian:DLA"][0] == "updated"
    assert sources["osv:PyPI"] == (
        "failed",
        f"{server.url(OSV_ZIP)}: cannot read the zip archive: File is not a zip file",
    )
    assert sources["nvd"] == (
        "failed",
        f"{server.url(NVD_PATH)}?startIndex=0&resultsPerPage=1000: HTTP 500 Internal Server Error",
    )
    assert sources["kev"][0] == "failed"
    assert sources["kev"][1].startswith(f"{server.url(KEV)}: skipped: not valid JSON")
    assert sources["debian:DSA"] == (
        "failed",
        f"{server.url(DSA)}: redirected to another host (http://127.0.0.2:9/elsewhere/list); "
        "not followed",
    )
    problems = {p["file"]: p["message"] for p in summary["input_problems"]}
    assert problems[server.url(DSA)] == (
        "redirected to another host (http://127.0.0.2:9/elsewhere/list); not followed"
    )
    # What the earlier update stored stays; the failed sources keep their old validators.
    assert _count(engine, Advisory.feed == "kev") == 1404
    dsa = _count(engine, Advisory.feed == "debian", Advisory.record_id.like("DSA-%"))
    assert dsa == before["records_by_feed"]["debian"] == 5405
    with sessions() as session:
        kev_state = session.get(FeedSource, "kev")
        assert kev_state is not None
        assert (kev_state.last_status, kev_state.etag) == ("failed", kev_etag)


def test_down_too_large_and_secrets_in_urls(
    update: Run, server: FeedServer, engine: Engine
) -> None:
    kev_url = server.url(KEV).replace("http://", "http://feeduser:hunter2@")

    result = update(
        "--source",
        "kev",
        "--source",
        "nvd",
        "--source",
        "debian:DLA",
        HOSTWATCH_FEEDS_KEV_URL=kev_url,
        HOSTWATCH_FEEDS_NVD_URL="http://127.0.0.1:9/rest/json/cves/2.0",
        HOSTWATCH_FEEDS_MAX_BYTES="1000000",
    )

    summary = _summary(result)
    sources = _sources(summary)
    assert result.exit_code == 3
    assert sources["kev"] == (
        "failed",
        f"{server.url(KEV)}: the body (1257565 bytes) is over 1000000 bytes",
    )
    assert sources["nvd"] == (
        "failed",
        "http://127.0.0.1:9/rest/json/cves/2.0?startIndex=0&resultsPerPage=1000: cannot connect",
    )
    assert sources["debian:DLA"][0] == "updated"
    assert "hunter2" not in result.output
    assert _count(engine, Advisory.feed == "kev") == 0


def test_an_unsized_body_past_the_cap_is_cut_off(update: Run, server: FeedServer) -> None:
    server.broken[KEV] = Broken(200, b"x" * 5000, unsized=True)

    summary = _summary(update("--source", "kev", HOSTWATCH_FEEDS_MAX_BYTES="4096"))

    assert _sources(summary)["kev"] == (
        "failed",
        f"{server.url(KEV)}: the body is over 4096 bytes; cut off",
    )


def test_an_unknown_source_is_refused(update: Run) -> None:
    result = update("--source", "rhsa")

    assert result.exit_code == 2
    assert "unknown feed source 'rhsa'" in result.output
