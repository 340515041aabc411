"""`hostwatch feeds update --source msrc` against a server on 127.0.0.1 that plays Microsoft's
security update API (tests/vulns/msrc_api.py)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from hostwatch.cli import app as cli_app
from hostwatch.vulns.feed_state import FeedSource
from hostwatch.vulns.models import Advisory
from tests.vulns.feed_server import Broken, FeedServer, start
from tests.vulns.msrc_api import (
    BASE,
    INDEX,
    RECORDS,
    RELEASED,
    document,
    document_path,
    month_list,
)


@pytest.fixture
def server() -> Iterator[FeedServer]:
    feeds = FeedServer()
    for month in RECORDS:
        feeds.put(document_path(month), document(month))
    httpd, thread = start(feeds)
    yield feeds
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


Run = Callable[..., dict[str, Any]]


@pytest.fixture
def update(db_url: str, tmp_path: Path, server: FeedServer) -> Run:
    env = {
        "HOSTWATCH_DATABASE_URL": db_url,
        "HOSTWATCH_DATA_DIR": str(tmp_path / "var"),
        "HOSTWATCH_LOG_LEVEL": "WARNING",
        "HOSTWATCH_FEEDS_MSRC_URL": server.url(BASE),
    }

    def run() -> dict[str, Any]:
        result = CliRunner().invoke(
            cli_app, ["feeds", "update", "--source", "msrc", "--json"], env=env
        )
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise AssertionError(f"feeds update crashed:\n{result.output}") from result.exception
        summary: dict[str, Any] = json.loads(result.stdout)
        summary["exit_code"] = result.exit_code
        return summary

    return run


def _sources(summary: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    return {s["source"]: (s["status"], s["message"]) for s in summary["sources"]}


def _fetched(server: FeedServer) -> list[str]:
    return [path for path, _ in server.requests]


def _stored(engine: Engine) -> dict[str, int]:
    """Records not withdrawn, per month (the record id's prefix)."""
    with engine.connect() as conn:
        ids = conn.execute(
            select(Advisory.record_id).where(Advisory.feed == "msrc", Advisory.withdrawn.is_(None))
        ).scalars()
        counts: dict[str, int] = {}
        for record_id in ids:
            month = record_id.partition(":")[0]
            counts[month] = counts.get(month, 0) + 1
        return counts


def test_the_first_update_imports_every_month_and_the_second_fetches_nothing(
    update: Run, server: FeedServer, engine: Engine, sessions: sessionmaker[Session]
) -> None:
    server.put(INDEX, month_list(RELEASED))

    first = update()
    first_requests = list(server.requests)
    server.requests.clear()
    second = update()

    assert first["records_by_feed"] == {"msrc": 313}
    assert first["added"] == 313
    assert _stored(engine) == RECORDS
    assert {name: status for name, (status, _) in _sources(first).items()} == {
        "msrc": "updated",
        "msrc:2023-Dec": "updated",
        "msrc:2024-Jan": "updated",
        "msrc:2024-Feb": "updated",
        "msrc:2024-Mar": "updated",
    }
    assert _sources(first)["msrc"][1] == "4 of 4 months fetched"
    # The list as JSON, then each document, oldest first, as XML from the configured base.
    assert [(path, headers["accept"]) for path, headers in first_requests] == [
        (INDEX, "application/json"),
        *((document_path(m), "application/xml") for m in RECORDS),
    ]
    # February's one vulnerability with a malformed CVE id is named and skipped; the month is read.
    assert [p["message"] for f in first["per_file"] for p in f["problems"]] == [
        "skipped: a vulnerability with a malformed CVE id 'CVE-2024-21626M'"
    ]
    with sessions() as session:
        source = session.scalar(
            select(Advisory.source).where(Advisory.record_id == "2024-Mar:CVE-2024-21407")
        )
        march = session.get(FeedSource, "msrc:2024-Mar")
        assert march is not None
        mark = march.nvd_mark
    assert source == server.url(document_path("2024-Mar"))
    assert mark is not None and mark.isoformat() == "2024-03-27T07:00:00+00:00"

    # The unchanged list is a 304 and no document is asked for.
    assert _fetched(server) == [INDEX]
    assert server.requests[0][1]["if-none-match"] == server.etag(INDEX)
    assert (second["records"], second["added"], second["updated"]) == (0, 0, 0)
    assert _sources(second) == {"msrc": ("not modified", None)}
    assert (second["status"], second["exit_code"]) == ("complete", 0)


def test_a_new_month_and_a_revised_one_are_fetched_alone(
    update: Run, server: FeedServer, engine: Engine, sessions: sessionmaker[Session]
) -> None:
    server.put(INDEX, month_list({m: RELEASED[m] for m in ("2023-Dec", "2024-Jan", "2024-Feb")}))
    update()
    server.requests.clear()
    # March appears; January is revised (a later CurrentReleaseDate, one CVE retitled).
    old_title = b"<vuln:Title>Chromium: CVE-2024-0222 Use after free in ANGLE</vuln:Title>"
    revised = document("2024-Jan").replace(old_title, b"<vuln:Title>Revised title</vuln:Title>")
    assert revised != document("2024-Jan")
    server.put(document_path("2024-Jan"), revised)
    server.put(INDEX, month_list({**RELEASED, "2024-Jan": "2024-04-09T07:00:00Z"}))

    summary = update()

    assert _fetched(server) == [INDEX, document_path("2024-Jan"), document_path("2024-Mar")]
    assert summary["records_by_feed"] == {"msrc": 85 + 81}
    assert (summary["added"], summary["updated"], summary["unchanged"]) == (81, 1, 84)
    assert _sources(summary)["msrc"] == ("updated", "2 of 4 months fetched")
    assert _stored(engine) == RECORDS
    with sessions() as session:
        title = session.scalar(
            select(Advisory.summary).where(Advisory.record_id == "2024-Jan:CVE-2024-0222")
        )
    assert title == "Revised title"

    # The list moves January on again but the document is the same: a 304, nothing written.
    server.put(INDEX, month_list({**RELEASED, "2024-Jan": "2024-04-10T07:00:00Z"}))
    server.requests.clear()

    again = update()

    assert _fetched(server) == [INDEX, document_path("2024-Jan")]
    assert _sources(again)["msrc:2024-Jan"] == ("not modified", None)
    assert _sources(again)["msrc"] == ("updated", "0 of 4 months fetched")
    assert again["records"] == 0


def test_a_failing_month_is_named_the_others_import_and_nothing_stored_is_lost(
    update: Run, server: FeedServer, engine: Engine, sessions: sessionmaker[Session]
) -> None:
    server.put(INDEX, month_list({"2023-Dec": RELEASED["2023-Dec"]}))
    update()
    server.put(INDEX, month_list({**RELEASED, "2023-Dec": "2024-04-01T00:00:00Z"}))
    # December is revised but now cut off mid-document; January fails on the server.
    december = document("2023-Dec")
    server.put(document_path("2023-Dec"), december[: len(december) // 2])
    server.broken[document_path("2024-Jan")] = Broken(500, b"internal error")

    summary = update()

    sources = _sources(summary)
    assert summary["exit_code"] == 3 and summary["status"] == "partial"
    assert sources["msrc:2024-Jan"] == (
        "failed",
        f"{server.url(document_path('2024-Jan'))}: HTTP 500 Internal Server Error",
    )
    status, message = sources["msrc:2023-Dec"]
    assert status == "failed"
    assert message is not None
    assert message.startswith(
        f"{server.url(document_path('2023-Dec'))}: skipped: not a readable CVRF document:"
    )
    assert (sources["msrc:2024-Feb"][0], sources["msrc:2024-Mar"][0]) == ("updated", "updated")
    assert sources["msrc"] == ("partial", "2 of 4 months failed: msrc:2023-Dec, msrc:2024-Jan")
    # December's earlier records stay; February and March are added; January is absent.
    assert _stored(engine) == {"2023-Dec": 51, "2024-Feb": 96, "2024-Mar": 81}
    with sessions() as session:
        state = session.get(FeedSource, "msrc:2023-Dec")
        assert state is not None
        assert state.nvd_mark is not None
        assert state.nvd_mark.isoformat() == "2023-12-21T18:16:53+00:00"

    # Fixed on the server: the next run, with the same list, fetches the two that failed.
    server.put(document_path("2023-Dec"), december)
    del server.broken[document_path("2024-Jan")]
    server.requests.clear()

    again = update()

    assert _fetched(server) == [INDEX, document_path("2023-Dec"), document_path("2024-Jan")]
    assert again["status"] == "complete"
    assert _stored(engine) == RECORDS


def test_an_unreadable_month_list_fails_and_keeps_what_is_stored(
    update: Run, server: FeedServer, engine: Engine
) -> None:
    server.put(INDEX, month_list({"2024-Mar": RELEASED["2024-Mar"]}))
    update()
    server.put(INDEX, b'{"value": [{"ID": "2024-Apr", "CurrentReleaseDate"')

    summary = update()

    status, message = _sources(summary)["msrc"]
    assert (status, summary["exit_code"]) == ("failed", 1)
    assert message is not None
    assert message.startswith(f"{server.url(INDEX)}: the update list is not valid JSON")
    assert _stored(engine) == {"2024-Mar": 81}


def test_a_bad_list_entry_is_named_and_the_other_months_import(
    update: Run, server: FeedServer, engine: Engine
) -> None:
    index = json.loads(month_list({"2024-Mar": RELEASED["2024-Mar"]}))
    index["value"].insert(0, {"ID": "../../etc/passwd", "CurrentReleaseDate": "2024-01-01"})
    server.put(INDEX, json.dumps(index).encode())

    summary = update()

    assert _fetched(server) == [INDEX, document_path("2024-Mar")]
    assert [(p["file"], p["message"]) for p in summary["input_problems"]] == [
        (
            server.url(INDEX),
            "value[0]: ID '../../etc/passwd' is not a month id of the form 2024-Feb; skipped",
        )
    ]
    assert _stored(engine) == {"2024-Mar": 81}
