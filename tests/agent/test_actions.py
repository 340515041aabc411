"""The agent's action runner: order of reports, refusals with their reasons, reports kept on
disk until the server has them. Isolation and restriction themselves have their own tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hostwatch import protocol
from hostwatch.agent.actions import REPORTS_FILE, RUNNING_FILE, ActionRunner
from hostwatch.agent.isolation import Isolation


def _runner(tmp_path: Path, nft: str | None = None) -> ActionRunner:
    return ActionRunner(
        tmp_path,
        "http://127.0.0.1:9",
        on_events=lambda events: None,
        isolation=Isolation(tmp_path, nft=nft) if nft else None,
    )


def _run(runner: ActionRunner, *actions: protocol.PendingAction) -> list[tuple[str, str, str]]:
    runner.start()
    try:
        runner.submit(list(actions))
        runner._queue.join()
    finally:
        runner.stop()
    return [(i, r.state, r.message or "") for i, r in runner.pending_reports()]


def test_unknown_action_type_fails_with_the_type_named(tmp_path: Path) -> None:
    reports = _run(_runner(tmp_path), protocol.PendingAction(id="a1", type="format_disk"))
    assert [(i, s) for i, s, _ in reports] == [("a1", "running"), ("a1", "failed")]
    assert "'format_disk'" in reports[1][2]


def test_bad_parameters_fail_naming_the_field(tmp_path: Path) -> None:
    reports = _run(
        _runner(tmp_path),
        protocol.PendingAction(id="a2", type=protocol.ISOLATE, parameters={"mode": "partial"}),
    )
    assert reports[-1][1] == "failed"
    assert reports[-1][2].startswith("invalid parameters: mode:")


def test_an_action_past_its_expiry_is_not_run(tmp_path: Path) -> None:
    past = datetime.now(UTC) - timedelta(minutes=1)
    reports = _run(
        _runner(tmp_path, nft="/nonexistent/nft"),
        protocol.PendingAction(id="a3", type=protocol.ISOLATE, expires_at=past),
    )
    assert reports == [("a3", "failed", "the action expired before the agent could run it")]


def test_expiry_is_read_on_the_servers_clock_not_a_skewed_device_clock(tmp_path: Path) -> None:
    """A device whose clock runs three days ahead runs an action the server says has an hour
    left, and one whose clock is behind still refuses an action the server says is past."""
    now = datetime.now(UTC)
    server_behind = now - timedelta(days=3)
    runner = _runner(tmp_path, nft="/nonexistent/nft")
    runner.start()
    try:
        runner.submit(
            [
                protocol.PendingAction(
                    id="s1", type=protocol.ISOLATE, expires_at=server_behind + timedelta(hours=1)
                )
            ],
            server_time=server_behind,
        )
        server_ahead = now + timedelta(days=3)
        runner.submit(
            [
                protocol.PendingAction(
                    id="s2", type=protocol.ISOLATE, expires_at=server_ahead - timedelta(minutes=1)
                )
            ],
            server_time=server_ahead,
        )
        runner._queue.join()
    finally:
        runner.stop()
    reports = [(i, r.state, r.message or "") for i, r in runner.pending_reports()]

    assert reports[0] == ("s1", "running", reports[0][2])
    assert reports[1][:2] == ("s1", "failed")
    assert "nftables is not installed" in reports[1][2]
    assert reports[2] == ("s2", "failed", "the action expired before the agent could run it")


def test_isolation_without_nftables_fails_with_the_reason(tmp_path: Path) -> None:
    reports = _run(
        _runner(tmp_path, nft="/nonexistent/nft"),
        protocol.PendingAction(id="a4", type=protocol.ISOLATE, parameters={"mode": "full"}),
    )
    assert [s for _, s, _ in reports] == ["running", "failed"]
    assert "nft" in reports[-1][2]


def test_a_repeated_action_runs_once(tmp_path: Path) -> None:
    action = protocol.PendingAction(id="a5", type="nothing")
    runner = _runner(tmp_path)
    runner.start()
    try:
        runner.submit([action])
        runner.submit([action])
        runner._queue.join()
    finally:
        runner.stop()
    assert [(i, r.state) for i, r in runner.pending_reports()] == [
        ("a5", "running"),
        ("a5", "failed"),
    ]


def test_unsent_reports_survive_a_restart_until_sent(tmp_path: Path) -> None:
    _run(_runner(tmp_path), protocol.PendingAction(id="a6", type="nothing"))
    assert (tmp_path / REPORTS_FILE).stat().st_mode & 0o777 == 0o600

    again = _runner(tmp_path)
    pending = again.pending_reports()
    assert [(i, r.state) for i, r in pending] == [("a6", "running"), ("a6", "failed")]
    again.sent(*pending[0])
    assert [(i, r.state) for i, r in _runner(tmp_path).pending_reports()] == [("a6", "failed")]


def test_damaged_reports_file_is_reported_not_fatal(tmp_path: Path) -> None:
    (tmp_path / REPORTS_FILE).write_text("{not json", encoding="utf-8")
    assert _runner(tmp_path).pending_reports() == []


def test_a_success_the_server_refuses_as_invalid_becomes_a_failure_saying_why(
    tmp_path: Path,
) -> None:
    """Else the server, which heard 'running', shows the action running for good."""
    runner = _runner(tmp_path, nft="/nonexistent/nft")
    runner._report("r1", "running", "started")
    runner._report("r1", "succeeded", None, {"rules": 11})
    runner._report("r2", "succeeded", None, {"rules": 11})
    running, success, cancelled = runner.pending_reports()
    runner.sent(*running)

    runner.refused(*success, 422, "evidence: too large")
    runner.refused(*cancelled, 409, "action r2 is cancelled and takes no more reports")

    reports = [(i, r.state, r.message, r.evidence) for i, r in runner.pending_reports()]
    assert reports == [
        ("r1", "failed", "the server refused the agent's success report: evidence: too large", {})
    ]
    kept = json.loads((tmp_path / REPORTS_FILE).read_text(encoding="utf-8"))
    assert [(r["id"], r["report"]["state"]) for r in kept] == [("r1", "failed")]


def test_an_action_cut_short_by_a_stop_is_reported_failed_on_the_next_start(
    tmp_path: Path,
) -> None:
    (tmp_path / RUNNING_FILE).write_text('{"id": "a9", "type": "isolate"}', encoding="utf-8")
    runner = _runner(tmp_path)
    runner.start()
    runner.stop()

    [(action_id, report)] = runner.pending_reports()
    assert (action_id, report.state) == ("a9", "failed")
    assert (report.message or "").startswith("the agent stopped while running this isolate")
    assert not (tmp_path / RUNNING_FILE).exists()


def test_a_finished_action_leaves_no_running_record(tmp_path: Path) -> None:
    _run(_runner(tmp_path), protocol.PendingAction(id="a10", type="nothing"))
    assert not (tmp_path / RUNNING_FILE).exists()
    assert [(i, r.state) for i, r in _runner(tmp_path).pending_reports()] == [
        ("a10", "running"),
        ("a10", "failed"),
    ]
