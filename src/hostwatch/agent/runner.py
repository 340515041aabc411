"""The agent's main loop: enroll once, then heartbeat, send inventory and flush the spool."""

from __future__ import annotations

import logging
import os
import random
import signal
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
import psutil
from pydantic import ValidationError

from hostwatch import __version__, protocol
from hostwatch.agent.actions import ActionRunner
from hostwatch.agent.audit.collector import AuditCollector
from hostwatch.agent.audit.netlink import AuditBusy, AuditError
from hostwatch.agent.authtail import AuthLogCollector
from hostwatch.agent.bounds import LONG
from hostwatch.agent.client import (
    AgentClient,
    CredentialRejected,
    RequestRejected,
    ServerUnavailable,
)
from hostwatch.agent.host import collect_host_facts, collect_logged_on_users, keeps_utmp
from hostwatch.agent.inotify import InotifyCollector
from hostwatch.agent.logons import Sessions
from hostwatch.agent.processes import ProcessCollector
from hostwatch.agent.software import collect_software
from hostwatch.agent.spool import DEFAULT_MAX_BYTES, Spool, SpooledEvent, SpoolFull
from hostwatch.agent.state import (
    SPOOL_FILE,
    STATE_FILE,
    AgentState,
    StateError,
    load_state,
    prepare_data_dir,
    save_state,
)

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_LOCAL_FAILURE = 1  # the data dir, state or spool cannot be used
EXIT_ENROLL_REFUSED = 2  # no state and no usable enrollment token

SPOOL_MAX_BYTES_ENV = "HOSTWATCH_AGENT_SPOOL_MAX_BYTES"
PROCESS_SOURCE_ENV = "HOSTWATCH_AGENT_PROCESS_SOURCE"
USERS_REFRESH_ENV = "HOSTWATCH_AGENT_USERS_REFRESH"
PROCESS_SOURCES = ("auto", "audit", "poll")
DEFAULT_HEARTBEAT = 30.0
CREDENTIAL_RETRY = 300.0  # a refused credential needs an operator; do not hammer the server
SHUTDOWN_FLUSH = 2.0
INVENTORY_FRESH = 600.0  # an unsent snapshot younger than this is sent instead of a new one
MAX_REJECTS_PER_FLUSH = 64
SESSIONS_INVENTORY_GAP = 60.0  # seconds between inventories sent for logged-on users alone


class Backoff:
    """Exponential delays with jitter, so many agents do not return to a server in step."""

    def __init__(self, initial: float = 1.0, maximum: float = 60.0) -> None:
        self.initial = initial
        self.maximum = maximum
        self._next = initial

    def delay(self) -> float:
        delay = self._next
        self._next = min(self.maximum, self._next * 2)
        return delay * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not a secret

    def reset(self) -> None:
        self._next = self.initial


class StatusErrors:
    """The current problems of each collector, reported with every heartbeat."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_source: dict[str, list[str]] = {}

    def set(self, source: str, messages: list[str]) -> None:
        with self._lock:
            if messages:
                self._by_source[source] = [m[:LONG] for m in messages]
            else:
                self._by_source.pop(source, None)

    def all(self) -> list[str]:
        with self._lock:
            flat = [m for messages in self._by_source.values() for m in messages]
        return flat[:64]


class AgentRunner:
    def __init__(
        self,
        server_url: str,
        enroll_token: str | None,
        data_dir: Path,
        heartbeat_interval: float | None = None,
        process_poll_interval: float = 2.0,
        stop_event: threading.Event | None = None,
        spool_max_bytes: int = DEFAULT_MAX_BYTES,
        process_source: str = "auto",
        sessions_inventory_gap: float = SESSIONS_INVENTORY_GAP,
    ) -> None:
        if process_source not in PROCESS_SOURCES:
            raise ValueError(f"process source must be one of {', '.join(PROCESS_SOURCES)}")
        self.server_url = server_url
        self.data_dir = data_dir
        self._enroll_token = enroll_token
        self._interval_override = heartbeat_interval
        self._poll_interval = process_poll_interval
        self._spool_max_bytes = spool_max_bytes
        self._process_source = process_source
        self.stop_event = stop_event or threading.Event()
        self.wake = threading.Event()  # set when events are spooled, and on stop

        self._client = AgentClient(server_url)
        self._errors = StatusErrors()
        self._backoff = Backoff()
        self._self_process = psutil.Process()
        self._spool: Spool | None = None
        self._collector: ProcessCollector | AuditCollector | None = None
        # Without audit: file events from inotify, logon events from auth.log or the journal.
        self._inotify: InotifyCollector | None = None
        self._authlog: AuthLogCollector | None = None
        self._sessions = Sessions()
        self._sessions_gap = sessions_inventory_gap
        self._device_id = ""
        self._machine_id: str | None = None
        self._server_up: bool | None = None
        self._down_since = 0.0
        self._next_contact = 0.0
        self._interval = heartbeat_interval or DEFAULT_HEARTBEAT
        self._inventory_due = True
        self._inventory_collected = -INVENTORY_FRESH
        self._unspooled_inventory: protocol.InventoryUpload | None = None
        self._rejects = 0
        self._actions: ActionRunner | None = None

    def stop(self) -> None:
        self.stop_event.set()
        self.wake.set()

    @property
    def spool(self) -> Spool:
        assert self._spool is not None, "the spool is opened by run()"
        return self._spool

    # Start and stop

    def run(self) -> int:
        url = httpx.URL(self.server_url)
        if url.scheme == "http" and url.host not in {"127.0.0.1", "::1", "localhost"}:
            logger.warning(
                "server %s is plain HTTP: the enrollment token and device credential cross the "
                "network unencrypted; use https",
                self.server_url,
            )
        try:
            prepare_data_dir(self.data_dir)
            state = load_state(self.data_dir)
        except (OSError, StateError) as exc:
            logger.error("cannot use the agent data dir %s: %s", self.data_dir, exc)
            return EXIT_LOCAL_FAILURE

        try:
            if state is None:
                enrolled = self._enroll()
                if isinstance(enrolled, int):
                    return enrolled
                state = enrolled
            else:
                if state.server_url.rstrip("/") != self.server_url.rstrip("/"):
                    logger.warning(
                        "device %s enrolled with %s, now talking to %s",
                        state.device_id,
                        state.server_url,
                        self.server_url,
                    )
                logger.info("agent is device %s, server %s", state.device_id, self.server_url)
            self._device_id = state.device_id
            self._client.credential = state.credential

            try:
                self._spool = Spool(self.data_dir / SPOOL_FILE, max_bytes=self._spool_max_bytes)
            except (OSError, sqlite3.Error, SpoolFull) as exc:
                logger.error("cannot open the spool in %s: %s", self.data_dir, exc)
                return EXIT_LOCAL_FAILURE
            self._actions = ActionRunner(
                self.data_dir, self.server_url, self._on_events, on_report=self.wake.set
            )
            self._actions.start()
            try:
                self._loop()
            finally:
                self._shutdown()
        finally:
            self._client.close()
        return EXIT_OK

    def _enroll(self) -> AgentState | int:
        if not self._enroll_token:
            logger.error(
                "the agent is not enrolled (no %s in %s) and has no enrollment token; "
                "create one with 'hostwatch enroll-token create'",
                STATE_FILE,
                self.data_dir,
            )
            return EXIT_ENROLL_REFUSED
        host = collect_host_facts()
        try:
            request = protocol.EnrollRequest(
                enroll_token=self._enroll_token, host=host, agent_version=__version__
            )
        except ValidationError:
            # The error text would echo the token: say only what is wrong with it.
            logger.error("the enrollment token is malformed (it must be 8 to 256 characters)")
            return EXIT_ENROLL_REFUSED

        backoff = Backoff()
        failures = 0
        while not self.stop_event.is_set():
            try:
                answer = self._client.enroll(request)
            except ServerUnavailable as exc:
                delay = backoff.delay()
                failures += 1
                logger.log(
                    logging.INFO if failures == 1 else logging.DEBUG,
                    "server unreachable, enrollment retried in %.0f s: %s",
                    delay,
                    exc,
                )
                self.stop_event.wait(delay)
                continue
            except CredentialRejected as exc:
                logger.error("the server refused the enrollment token: %s", exc)
                return EXIT_ENROLL_REFUSED
            except RequestRejected as exc:
                logger.error("the server refused the enrollment: %s", exc.detail)
                return EXIT_ENROLL_REFUSED

            state = AgentState(
                device_id=answer.device_id,
                credential=answer.credential,
                server_url=self.server_url,
                enrolled_at=datetime.now(UTC),
            )
            try:
                save_state(self.data_dir, state)
            except OSError as exc:
                # The server keeps only a hash: this credential is lost with this process.
                logger.error(
                    "enrolled as device %s but cannot save the state in %s: %s; enroll again",
                    answer.device_id,
                    self.data_dir,
                    exc,
                )
                return EXIT_LOCAL_FAILURE
            if self._interval_override is None:
                self._interval = float(max(1, answer.heartbeat_interval))
            logger.info("enrolled as device %s with %s", answer.device_id, self.server_url)
            return state
        return EXIT_OK

    def _shutdown(self) -> None:
        logger.info("agent stopping")
        if self._actions is not None:
            self._actions.stop()
        if self._collector is not None:
            self._collector.stop(timeout=self._poll_interval + 2.0)
        for extra in (self._inotify, self._authlog):
            if extra is not None:
                extra.stop()
        if self._spool is None:
            return
        if self._server_up:
            deadline = time.monotonic() + SHUTDOWN_FLUSH
            self._send_reports(deadline)
            self._flush_events(deadline)
        left = self._spool.stats().events
        self._spool.close()
        logger.info("agent stopped; %s events wait in the spool", left)

    # The loop

    def _loop(self) -> None:
        host = collect_host_facts()
        self._machine_id = host.machine_id
        self._collector = self._start_process_collector()
        self._self_process.cpu_percent(None)  # the first reading only starts the measurement

        while not self.stop_event.is_set():
            if (
                self._sessions.changed
                and not keeps_utmp()
                and time.monotonic() - self._inventory_collected > self._sessions_gap
            ):
                # The logged-on users come from logon events here: send them while current.
                self._inventory_due = True
            if self._inventory_due:
                self._collect_inventory()
            if time.monotonic() >= self._next_contact:
                self._contact()
            elif self.wake.is_set():
                self.wake.clear()
                if (
                    self._server_up
                    and self._send_reports()
                    and self._rejects <= MAX_REJECTS_PER_FLUSH
                ):
                    self._flush_events()
            remaining = self._next_contact - time.monotonic()
            # Short waits so an outside stop_event is noticed within half a second.
            self.wake.wait(max(0.0, min(remaining, 0.5)))

    def _start_process_collector(self) -> ProcessCollector | AuditCollector:
        """The audit collector where the kernel allows it, otherwise the /proc poller."""
        if self._process_source != "poll":
            try:
                audit = AuditCollector(self._machine_id)
                audit.start(self._on_events, self._on_audit_error)
            except AuditError as exc:
                if isinstance(exc, AuditBusy):
                    reason = f"another audit daemon is running: {exc}"
                else:
                    reason = f"the kernel audit interface cannot be used: {exc}"
                message = (
                    f"process events come from polling /proc every {self._poll_interval:g} s, "
                    f"which misses short-lived processes and sees no connections; {reason}"
                )
                logger.warning("audit collector not started: %s", message)
                self._errors.set("audit-start", [message])
            else:
                logger.info("process and network events come from the kernel audit subsystem")
                return audit
        poller = ProcessCollector(self._machine_id, interval=self._poll_interval)
        poller.start(self._on_events, self._on_process_error)
        self._start_fallback_collectors()
        return poller

    def _start_fallback_collectors(self) -> None:
        """File events from inotify (no process attribution) and logon events from the
        auth log or the journal, for when the audit collector cannot run."""
        try:
            inotify = InotifyCollector(self._machine_id)
            inotify.start(self._on_events)
        except OSError as exc:
            logger.warning("file events not collected: %s", exc)
            self._errors.set("files", [f"file events are not collected: {exc}"])
        else:
            self._inotify = inotify
        authlog = AuthLogCollector(self.data_dir, self._machine_id)
        if authlog.start(self._on_events):
            self._authlog = authlog
        else:
            logger.warning("logon events not collected: no auth log, journal or audit")

    def _on_audit_error(self, message: str | None) -> None:
        self._errors.set("audit", [message] if message else [])

    def _on_events(self, events: list[protocol.AgentEvent]) -> None:
        self._sessions.observe(events)
        self.spool.add_events(events)
        self.wake.set()

    def _on_process_error(self, message: str | None) -> None:
        self._errors.set("process", [message] if message else [])

    def _contact(self) -> None:
        """Heartbeat, then whatever the server is owed: inventory first, then events."""
        self._rejects = 0
        try:
            answer = self._client.heartbeat(
                protocol.HeartbeatRequest(
                    agent_version=__version__,
                    sent_at=datetime.now(UTC),
                    status=self._status(),
                    containment=self._actions.containment() if self._actions else None,
                )
            )
        except (ServerUnavailable, CredentialRejected, RequestRejected) as exc:
            self._contact_failed(exc)
            return
        self._contact_ok()

        if self._interval_override is None:
            self._interval = float(max(1, answer.heartbeat_interval))
        self._next_contact = time.monotonic() + self._interval
        if answer.actions and self._actions is not None:
            self._actions.submit(answer.actions, answer.server_time)
        if not self._send_reports():
            return
        if answer.inventory_due:
            fresh = time.monotonic() - self._inventory_collected < INVENTORY_FRESH
            if not (fresh and self._has_pending_inventory()):
                self._collect_inventory()
        # The backoff restarts only once everything went through: a server that answers
        # heartbeats but fails uploads must not be retried every second.
        if self._send_inventory() and self._flush_events():
            self._backoff.reset()

    def _contact_ok(self) -> None:
        if self._server_up is False:
            logger.info(
                "server %s reachable again after %.0f s",
                self.server_url,
                time.monotonic() - self._down_since,
            )
        self._server_up = True

    def _contact_failed(self, exc: Exception) -> None:
        """Sort a failed call: later retry for an outage, a slow retry for a refused credential."""
        was_up = self._server_up is not False
        if was_up:
            self._down_since = time.monotonic()
        self._server_up = False
        if isinstance(exc, CredentialRejected):
            logger.error(
                "the server refuses the credential of device %s (HTTP %s); telemetry stays in "
                "the spool and the agent retries every %.0f s. If the device was removed, delete "
                "%s and enroll again with a new token",
                self._device_id,
                exc.status,
                CREDENTIAL_RETRY,
                self.data_dir / STATE_FILE,
            )
            self._errors.set("server", [f"device credential refused (HTTP {exc.status})"])
            self._next_contact = time.monotonic() + CREDENTIAL_RETRY
            return
        if isinstance(exc, RequestRejected):
            logger.error("the server refused the heartbeat: %s", exc.detail)
            self._next_contact = time.monotonic() + self._interval
            return
        delay = self._backoff.delay()
        if was_up:
            logger.info(
                "server unreachable, keeping telemetry in the spool; retry in %.0f s: %s",
                delay,
                exc,
            )
        else:
            logger.debug("server still unreachable; retry in %.0f s: %s", delay, exc)
        self._next_contact = time.monotonic() + delay

    def _status(self) -> protocol.AgentStatus:
        stats = self.spool.stats()
        try:
            cpu: float | None = self._self_process.cpu_percent(None)
            rss: int | None = self._self_process.memory_info().rss
        except psutil.Error:
            cpu = rss = None
        collector: dict[str, Any] = {}
        if isinstance(self._collector, AuditCollector):
            counts = self._collector.counters()
            collector = {
                "process_source": "audit",
                "collector_dropped_events": counts["dropped"],
                "summarized_events": counts["summarized"],
                "kernel_lost_events": counts["kernel_lost"],
            }
        elif self._collector is not None:
            collector = {"process_source": "poll"}
        return protocol.AgentStatus(
            spool_events=stats.events,
            spool_bytes=stats.bytes,
            dropped_events=stats.dropped_events,
            errors=self._errors.all(),
            cpu_percent=cpu,
            rss_bytes=rss,
            **collector,
        )

    # Action reports

    def _send_reports(self, deadline: float | None = None) -> bool:
        """Send the action reports the server does not have yet; False if it went away."""
        if self._actions is None:
            return True
        for action_id, report in self._actions.pending_reports():
            timeout = None if deadline is None else max(0.1, deadline - time.monotonic())
            try:
                result = self._client.report_action(action_id, report, timeout=timeout)
            except (ServerUnavailable, CredentialRejected) as exc:
                self._contact_failed(exc)
                return False
            except RequestRejected as exc:
                # The action was cancelled or expired meanwhile, or the report is refused:
                # sending it again cannot help.
                logger.error(
                    "the server refused the %s report on action %s: %s",
                    report.state,
                    action_id,
                    exc.detail,
                )
                self._actions.refused(action_id, report, exc.status, exc.detail)
                continue
            else:
                logger.debug("action %s reported %s; now %s", action_id, report.state, result.state)
            self._actions.sent(action_id, report)
        return True

    # Inventory

    def _collect_inventory(self) -> None:
        self._inventory_due = False
        started = time.monotonic()
        errors: list[str] = []
        upload = protocol.InventoryUpload(
            collected_at=datetime.now(UTC),
            host=collect_host_facts(),
            logged_on_users=collect_logged_on_users(self._sessions)[:4096],
            software=collect_software(errors),
        )
        self._errors.set("inventory", errors)
        self._inventory_collected = time.monotonic()
        try:
            self.spool.put_inventory(upload)
            self._unspooled_inventory = None
        except SpoolFull as exc:
            # Inventory is never dropped for space: keep it in memory until it is sent.
            logger.error("cannot spool the inventory snapshot, keeping it in memory: %s", exc)
            self._unspooled_inventory = upload
        logger.info(
            "inventory collected: %s software items, %s logged-on users in %.1f s",
            len(upload.software),
            len(upload.logged_on_users),
            time.monotonic() - started,
        )

    def _has_pending_inventory(self) -> bool:
        return self._unspooled_inventory is not None or self.spool.pending_inventory() is not None

    def _send_inventory(self) -> bool:
        """Send the pending snapshot if there is one; False if the server went away."""
        spooled = self.spool.pending_inventory()
        memory = self._unspooled_inventory
        body: str | protocol.InventoryUpload
        if memory is not None:
            body, count = memory, len(memory.software)
        elif spooled is not None:
            body, count = spooled.body, spooled.item_count
        else:
            return True
        try:
            result = self._client.put_inventory(body)
        except (ServerUnavailable, CredentialRejected) as exc:
            self._contact_failed(exc)
            return False
        except RequestRejected as exc:
            # Sending it again unchanged cannot help; the server asks for a new one when due.
            logger.error("the server refused the inventory snapshot: %s", exc.detail)
            self._errors.set("inventory", [f"inventory refused by the server: {exc.detail}"])
        else:
            logger.info(
                "inventory sent with %s items (%s added, %s removed, %s unchanged)",
                count,
                result.software_added,
                result.software_removed,
                result.software_unchanged,
            )
        if memory is not None:
            self._unspooled_inventory = None
        if spooled is not None:
            self.spool.ack_inventory(spooled.id)
        return True

    # Events

    def _flush_events(self, deadline: float | None = None) -> bool:
        """Send spooled events oldest first until none are left; False if sending stopped."""
        while deadline is None or time.monotonic() < deadline:
            if deadline is None and self.stop_event.is_set():
                return False
            batch = self.spool.next_batch()
            if not batch:
                return True
            if not self._send_batch(batch, deadline):
                return False
        return False

    def _send_batch(self, batch: list[SpooledEvent], deadline: float | None) -> bool:
        timeout = None if deadline is None else max(0.1, deadline - time.monotonic())
        try:
            result = self._client.post_events([event.body for event in batch], timeout=timeout)
        except (ServerUnavailable, CredentialRejected) as exc:
            self._contact_failed(exc)
            return False
        except RequestRejected as exc:
            return self._batch_rejected(batch, exc, deadline)

        self.spool.ack_events([event.id for event in batch])
        logger.debug(
            "sent %s events: %s stored, %s duplicates", len(batch), result.stored, result.duplicates
        )
        return True

    def _batch_rejected(
        self, batch: list[SpooledEvent], exc: RequestRejected, deadline: float | None
    ) -> bool:
        """Split a refused batch to find the events the server refuses, and quarantine those.

        A refused batch is a bug signal (agent or server), not a reason to stop telemetry:
        halving isolates the bad events in about 2 log2(n) requests per bad event, the good
        ones are delivered, and the bad ones are kept aside in the spool for inspection.
        """
        self._rejects += 1
        if self._rejects > MAX_REJECTS_PER_FLUSH:
            # Everything is being refused: wait for the next heartbeat instead of splitting on.
            logger.error("the server refuses event batches (%s); pausing until next heartbeat", exc)
            self._errors.set("events", [f"event batches refused by the server: {exc.detail}"])
            return False
        if len(batch) == 1:
            reason = f"HTTP {exc.status}: {exc.detail}"
            self.spool.quarantine_events([batch[0].id], reason)
            logger.error("the server refused event %s; quarantined it: %s", batch[0].key, reason)
            total = self.spool.stats().quarantined_events
            self._errors.set("events", [f"{total} events quarantined; last refusal: {reason}"])
            return True
        logger.warning(
            "the server refused a batch of %s events (HTTP %s: %s); splitting it",
            len(batch),
            exc.status,
            exc.detail,
        )
        middle = len(batch) // 2
        return self._send_batch(batch[:middle], deadline) and self._send_batch(
            batch[middle:], deadline
        )


def _spool_max_bytes() -> int:
    raw = os.environ.get(SPOOL_MAX_BYTES_ENV)
    if not raw:
        return DEFAULT_MAX_BYTES
    try:
        return max(1, int(raw))
    except ValueError:
        logger.warning("ignoring %s=%r: not a number of bytes", SPOOL_MAX_BYTES_ENV, raw)
        return DEFAULT_MAX_BYTES


def _users_refresh() -> float:
    raw = os.environ.get(USERS_REFRESH_ENV)
    if not raw:
        return SESSIONS_INVENTORY_GAP
    try:
        return max(0.0, float(raw))
    except ValueError:
        logger.warning("ignoring %s=%r: not a number of seconds", USERS_REFRESH_ENV, raw)
        return SESSIONS_INVENTORY_GAP


def _process_source() -> str:
    raw = os.environ.get(PROCESS_SOURCE_ENV, "auto").strip().lower() or "auto"
    if raw not in PROCESS_SOURCES:
        logger.warning(
            "ignoring %s=%r: use one of %s", PROCESS_SOURCE_ENV, raw, ", ".join(PROCESS_SOURCES)
        )
        return "auto"
    return raw


def run_agent(
    server_url: str,
    enroll_token: str | None,
    data_dir: Path,
    heartbeat_interval: float | None = None,
    process_poll_interval: float = 2.0,
    stop_event: threading.Event | None = None,
) -> int:
    """Run the agent until SIGINT, SIGTERM or `stop_event`; return the process exit code.

    The spool cap comes from HOSTWATCH_AGENT_SPOOL_MAX_BYTES (default 256 MiB). Process
    events come from the kernel audit subsystem when the agent may use it, else from
    polling /proc; HOSTWATCH_AGENT_PROCESS_SOURCE=poll forces polling. On a system without
    utmp, logged-on users come from logon events, and a change is sent at most every
    HOSTWATCH_AGENT_USERS_REFRESH seconds (default 60).
    """
    runner = AgentRunner(
        server_url,
        enroll_token,
        data_dir,
        heartbeat_interval=heartbeat_interval,
        process_poll_interval=process_poll_interval,
        stop_event=stop_event,
        spool_max_bytes=_spool_max_bytes(),
        process_source=_process_source(),
        sessions_inventory_gap=_users_refresh(),
    )

    def on_signal(signum: int, frame: FrameType | None) -> None:
        # No logging here: a handler may interrupt a thread that holds the logging lock.
        runner.stop()

    previous: dict[signal.Signals, Callable[[int, FrameType | None], Any] | int | None] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, on_signal)
    try:
        return runner.run()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
