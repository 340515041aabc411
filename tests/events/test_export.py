"""CSV export: at most 7 days, streamed in batches, cells safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from hostwatch.events import export
from tests.events.data import BASE, add_events, at, ev, iso
from tests.helpers import Api


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def test_export_of_more_than_7_days_is_refused(
    api: Api, viewer: dict[str, str], device: str
) -> None:
    span = f"from={iso(BASE)}&to={iso(BASE + timedelta(days=8))}"

    response = api.client.get(f"/api/devices/{device}/timeline/export?{span}", headers=viewer)

    assert response.status_code == 400
    assert response.json()["code"] == "HW-2006"
    assert "at most 7 days" in response.json()["detail"]


@pytest.mark.parametrize(
    "command_line",
    [
        "=cmd|' /C calc'!A0",
        "+cmd|' /C calc'!A0",
        "-2+3+cmd|' /C calc'!A0",
        "@SUM(1+1)*cmd|' /C calc'!A0",
        "\t=cmd|' /C calc'!A0",
        "\r=cmd|' /C calc'!A0",
    ],
)
def test_export_neutralizes_cells_that_would_run_as_formulas(
    api: Api, viewer: dict[str, str], device: str, command_line: str
) -> None:
    add_events(api, device, ev(1, "process", process_command_line=command_line, user="=evil"))
    span = f"from={iso(at(0))}&to={iso(at(2))}"

    response = api.client.get(
        f"/api/devices/{device}/timeline/export?{span}&fields=user,process", headers=viewer
    )

    header, row = _rows(response.text)
    assert row[header.index("user")] == "'=evil"
    assert row[header.index("process_command_line")] == "'" + command_line


def test_export_keeps_text_with_commas_quotes_and_line_breaks_intact(
    api: Api, viewer: dict[str, str], device: str
) -> None:
    tricky = 'cmd /c "echo a,=b" && type C:\\x\r\nmore, -y'
    add_events(api, device, ev(1, "process", process_command_line=tricky, user="ann"))
    span = f"from={iso(at(0))}&to={iso(at(2))}"

    response = api.client.get(
        f"/api/devices/{device}/timeline/export?{span}&fields=user,process", headers=viewer
    )

    header, row = _rows(response.text)
    assert row[header.index("process_command_line")] == tricky
    assert row[header.index("user")] == "ann"


def test_export_streams_7_days_of_events_oldest_first_in_batches(
    api: Api, viewer: dict[str, str], device: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small batches, so the export crosses batch edges, some between events of one instant.
    monkeypatch.setattr(export, "BATCH_SIZE", 3)
    week = 7 * 24 * 60
    ids = add_events(
        api,
        device,
        ev(-1, key="before"),
        *[
            ev(minute // 2 * 600, key=f"in{minute}", target_file=f"/tmp/f{minute}")
            for minute in range(16)
        ],
        ev(week - 0.5, key="last"),
        ev(week, key="after"),
    )
    span = f"from={iso(at(0))}&to={iso(at(week))}"

    response = api.client.get(f"/api/devices/{device}/timeline/export?{span}", headers=viewer)

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    disposition = response.headers["content-disposition"]
    assert disposition == (
        f'attachment; filename="timeline-{device}-20260301T000000Z-20260308T000000Z.csv"'
    )
    header, *rows = _rows(response.text)
    assert header[:4] == ["id", "time", "kind", "action_type"]
    expected = [ids[f"in{minute}"] for minute in range(16)] + [ids["last"]]
    assert [int(row[0]) for row in rows] == expected
    assert rows[0][header.index("time")] == "2026-03-01T00:00:00.000000Z"
    assert rows[0][header.index("target_file")] == "/tmp/f0"
    assert rows[0][header.index("process_id")] == ""


def test_export_has_the_chosen_columns_in_the_chosen_order(
    api: Api, viewer: dict[str, str], device: str
) -> None:
    add_events(api, device, ev(1, "dns", dns_name="example.org", user="bob"))
    span = f"from={iso(at(0))}&to={iso(at(2))}"

    response = api.client.get(
        f"/api/devices/{device}/timeline/export?{span}&fields=user,time,target", headers=viewer
    )

    header, row = _rows(response.text)
    assert header == [
        "user",
        "time",
        "target_file",
        "target_registry_key",
        "target_registry_value",
        "remote_address",
        "remote_port",
        "local_address",
        "local_port",
        "dns_name",
    ]
    assert row[0] == "bob"
    assert row[-1] == "example.org"


def test_export_of_an_empty_range_is_just_the_header(
    api: Api, viewer: dict[str, str], device: str
) -> None:
    response = api.client.get(
        f"/api/devices/{device}/timeline/export?fields=id,kind", headers=viewer
    )

    assert response.status_code == 200
    assert response.text == "id,kind\r\n"
