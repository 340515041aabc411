"""Response actions on the agent: run what the server hands over, verify it, report it.

The server hands actions out with its heartbeat answers. They run one at a time, in order,
on a worker thread, so a slow action never delays telemetry. Each gets a "running" report,
then "succeeded" with evidence read back from the device, or "failed" with the reason. Reports
wait in a file in the data dir until the server has them, so a report made while the server
is unreachable, or just before the agent stops, is sent when it can be.

Containment (isolation, app restriction) outlives the agent process: each executor keeps what
it applied in the data dir, and `restore()` puts it back in force when the agent starts (after
a reboot the kernel has forgotten it).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from hostwatch import __version__, protocol
from hostwatch.agent.bounds import LONG
from hostwatch.agent.isolation import (
    Isolation,
    IsolationError,
    server_endpoints,
    system_resolvers,
    url_needs_dns,
)
from hostwatch.agent.restriction import AppRestriction, RestrictionError
from hostwatch.agent.state import write_private

logger = logging.getLogger(__name__)

REPORTS_FILE = "action-reports.json"
# The action being run, so an agent stopped in the middle of one says so when it starts again.
RUNNING_FILE = "action-running.json"


class ActionFailed(Exception):
    """An action that cannot run here; the message is the reason the analyst reads."""


def _now() -> datetime:
    return datetime.now(UTC)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        fields = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'parameters'}: {err['msg']}"
            for err in exc.errors()
        )
        return f"invalid parameters: {fields}"[:LONG]
    return str(exc)[:LONG] or type(exc).__name__


class ActionRunner:
    """Runs the server's actions on a worker thread and keeps their reports until sent."""

    def __init__(
        self,
        data_dir: Path,
        server_url: str,
        on_events: Callable[[list[protocol.AgentEvent]], None],
        on_report: Callable[[], None] | None = None,
        isolation: Isolation | None = None,
        restriction: AppRestriction | None = None,
    ) -> None:
        self._data_dir = data_dir
        self._server_url = server_url
        self._on_report = on_report or (lambda: None)
        # Both keep what they applied in the data dir, where `release-isolation` finds it.
        self.isolation = isolation or Isolation(data_dir)
        self.restriction = restriction or AppRestriction(data_dir, on_blocked=on_events)
        self._queue: queue.Queue[protocol.PendingAction | None] = queue.Queue()
        self._lock = threading.Lock()  # the reports
        # One change or read-back of containment at a time: a heartbeat's restore must not
        # run while an action is half way through applying.
        self._containment_lock = threading.Lock()
        self._reports: list[tuple[str, protocol.ActionReport]] = self._load_reports()
        self._seen: set[str] = set()
        self._thread: threading.Thread | None = None

    # Start and stop

    def start(self) -> list[str]:
        """Put persisted containment back in force, then start the worker; what was restored."""
        self._report_interrupted()
        restored = []
        for name, executor in (("isolation", self.isolation), ("restriction", self.restriction)):
            try:
                done = executor.restore()
            except (IsolationError, RestrictionError, OSError) as exc:
                logger.error("cannot restore %s on start: %s", name, exc)
                continue
            if done:
                logger.warning("%s restored on start: %s", name, done)
                restored.append(done)
        self._thread = threading.Thread(target=self._work, name="hostwatch-actions", daemon=True)
        self._thread.start()
        return restored

    def stop(self, timeout: float = 10.0) -> None:
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout)
        # Limitation: app restriction is enforced by this process's fanotify listener, so it
        # is not in force while the agent is stopped; restore() puts it back on start.
        self.restriction.close()

    # Work from the server

    def submit(
        self, actions: list[protocol.PendingAction], server_time: datetime | None = None
    ) -> None:
        """Queue the actions of a heartbeat answer. `server_time` is the answer's: expiries are
        the server's times, so they are moved to this device's clock, which may be off by
        days (a device ahead of the server would otherwise refuse every action as expired)."""
        offset = server_time - _now() if server_time is not None else None
        for action in actions:
            # The server hands an action out once; a repeat (a retried answer) is ignored.
            if action.id in self._seen:
                continue
            if offset is not None and action.expires_at is not None:
                action = action.model_copy(update={"expires_at": action.expires_at - offset})
            self._seen.add(action.id)
            logger.info("action %s (%s) received", action.id, action.type)
            self._queue.put(action)

    def idle(self) -> bool:
        return self._queue.unfinished_tasks == 0

    def _work(self) -> None:
        while True:
            action = self._queue.get()
            try:
                if action is None:
                    return
                self._run(action)
            finally:
                self._queue.task_done()

    def _run(self, action: protocol.PendingAction) -> None:
        if action.expires_at is not None and action.expires_at <= _now():
            self._report(action.id, "failed", "the action expired before the agent could run it")
            return
        self._mark_running(action)
        self._report(action.id, "running", f"started by agent {__version__}")
        try:
            with self._containment_lock:
                evidence = self._execute(action)
        except (ActionFailed, IsolationError, RestrictionError, ValidationError, OSError) as exc:
            logger.error("action %s (%s) failed: %s", action.id, action.type, _reason(exc))
            self._report(action.id, "failed", _reason(exc))
        except Exception as exc:
            logger.exception("action %s (%s) failed unexpectedly", action.id, action.type)
            self._report(action.id, "failed", f"agent error: {type(exc).__name__}: {exc}")
        else:
            logger.info("action %s (%s) succeeded", action.id, action.type)
            self._report(action.id, "succeeded", None, evidence)
        self._mark_running(None)

    def _mark_running(self, action: protocol.PendingAction | None) -> None:
        path = self._data_dir / RUNNING_FILE
        try:
            if action is None:
                path.unlink(missing_ok=True)
            else:
                write_private(path, json.dumps({"id": action.id, "type": action.type}))
        except OSError as exc:
            logger.error("cannot record the running action in %s: %s", path, exc)

    def _report_interrupted(self) -> None:
        """An action the agent was running when it stopped (killed, crashed, power cut) gets a
        failure saying so, instead of staying "running" on the server until its deadline."""
        path = self._data_dir / RUNNING_FILE
        try:
            running = json.loads(path.read_text(encoding="utf-8"))
            action_id, action_type = str(running["id"]), str(running["type"])
        except FileNotFoundError:
            return
        except (OSError, ValueError, KeyError, TypeError) as exc:
            logger.error("the running-action record %s cannot be read (%s)", path, exc)
            path.unlink(missing_ok=True)
            return
        logger.warning(
            "action %s (%s) was cut short when the agent stopped", action_id, action_type
        )
        self._report(
            action_id,
            "failed",
            f"the agent stopped while running this {action_type} action, so whether it took "
            "effect is not known; the containment the agent reports now is what is in force",
        )
        path.unlink(missing_ok=True)

    def _execute(self, action: protocol.PendingAction) -> dict[str, Any]:
        if action.type == protocol.ISOLATE:
            params = protocol.IsolateParameters.model_validate(action.parameters)
            endpoints = server_endpoints(self._server_url)
            # DNS stays open only when the agent needs it to find its server.
            dns = system_resolvers() if url_needs_dns(self._server_url) else []
            return self.isolation.apply(params, endpoints, dns)
        if action.type == protocol.RELEASE_ISOLATION:
            return self.isolation.release()
        if action.type == protocol.RESTRICT_APP_EXECUTION:
            restrict = protocol.RestrictParameters.model_validate(action.parameters)
            return self.restriction.apply(restrict)
        if action.type == protocol.REMOVE_APP_RESTRICTION:
            return self.restriction.remove()
        raise ActionFailed(f"this agent (version {__version__}) cannot run {action.type!r} actions")

    # What is in force

    def containment(self) -> protocol.ContainmentStatus:
        """Read back from the kernel, for every heartbeat. An isolation the kernel lost, or
        whose allowed cgroups were re-created, is put back first."""
        with self._containment_lock:
            return self._read_containment()

    def _read_containment(self) -> protocol.ContainmentStatus:
        problems: list[str] = []
        try:
            done = self.isolation.restore()
            if done:
                logger.warning("isolation: %s", done)
        except (IsolationError, OSError) as exc:
            problems.append(f"isolation could not be restored: {_reason(exc)}")
        try:
            isolated, mode, iso_problems = self.isolation.status()
            problems += iso_problems
        except (IsolationError, OSError) as exc:
            isolated, mode = False, None
            problems.append(f"isolation state unknown: {_reason(exc)}")
        try:
            restricted, res_problems = self.restriction.status()
            problems += res_problems
        except (RestrictionError, OSError) as exc:
            restricted = False
            problems.append(f"app restriction state unknown: {_reason(exc)}")
        return protocol.ContainmentStatus(
            isolated=isolated,
            isolation_mode=mode if isolated else None,  # type: ignore[arg-type]
            app_restricted=restricted,
            checked_at=_now(),
            problems=[p[:LONG] for p in problems[:16]],
        )

    # Reports

    def _report(
        self,
        action_id: str,
        state: str,
        message: str | None,
        evidence: dict[str, Any] | None = None,
    ) -> None:
        report = protocol.ActionReport(
            state=state,  # type: ignore[arg-type]
            at=_now(),
            message=message,
            evidence=evidence or {},
        )
        with self._lock:
            self._reports.append((action_id, report))
            self._save_reports()
        self._on_report()

    def pending_reports(self) -> list[tuple[str, protocol.ActionReport]]:
        with self._lock:
            return list(self._reports)

    def refused(
        self, action_id: str, report: protocol.ActionReport, status: int, detail: str
    ) -> None:
        """The server refused this report for good: forget it. A success it refused as invalid
        (422: evidence too large, say) becomes a failure saying why, since the server keeps an
        action it heard `running` of in that state until it hears a result."""
        self.sent(action_id, report)
        if report.state == "succeeded" and status == 422:
            self._report(
                action_id,
                "failed",
                f"the server refused the agent's success report: {detail}"[:2000],
            )

    def sent(self, action_id: str, report: protocol.ActionReport) -> None:
        """The server has this report (or refused it for good): forget it."""
        with self._lock:
            self._reports = [r for r in self._reports if r != (action_id, report)]
            self._save_reports()

    def _load_reports(self) -> list[tuple[str, protocol.ActionReport]]:
        path = self._data_dir / REPORTS_FILE
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            return [(str(r["id"]), protocol.ActionReport.model_validate(r["report"])) for r in raw]
        except FileNotFoundError:
            return []
        except (OSError, ValueError, KeyError, TypeError) as exc:
            # The reports are lost; the server expires the actions they were about.
            logger.error("unsent action reports in %s cannot be read (%s)", path, exc)
            return []

    def _save_reports(self) -> None:
        path = self._data_dir / REPORTS_FILE
        body = json.dumps(
            [{"id": i, "report": r.model_dump(mode="json")} for i, r in self._reports]
        )
        try:
            write_private(path, body)
        except OSError as exc:
            logger.error("cannot save action reports in %s: %s", path, exc)
