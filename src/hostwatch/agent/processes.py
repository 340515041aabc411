"""Process creation telemetry by polling the process table: one event per newly seen process."""

from __future__ import annotations

import hashlib
import logging
import os
import shlex
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psutil

from hostwatch import protocol
from hostwatch.agent.bounds import LONG, PATH, SHORT, clean, fit

logger = logging.getLogger(__name__)

DEFAULT_INTERVAL = 2.0
_PF_KTHREAD = 0x00200000  # task flag of kernel threads, see include/linux/sched.h
_GUID_NAMESPACE = uuid.UUID("5b0f8a52-3c4e-4d0a-9a57-1f2d6c7e8b90")
_ATTRS = ["pid", "ppid", "exe", "cmdline", "username"]


@dataclass(frozen=True)
class _Proc:
    pid: int
    ppid: int | None
    start_ticks: int  # clock ticks after boot: with the boot id, a process's identity
    image: str | None
    argv: list[str] | None
    user: str | None


def read_boot_id() -> str:
    """The kernel's random id of this boot; the boot time where the kernel has none."""
    try:
        value = Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
    except OSError:
        value = ""
    return value or f"boot-{int(psutil.boot_time())}"


def _read_stat(pid: int) -> tuple[int, int, int] | None:
    """(ppid, flags, start ticks) from /proc/<pid>/stat, or None if the process is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    # The command name in parentheses may itself hold spaces and parentheses.
    fields = raw[raw.rfind(")") + 2 :].split()
    try:
        return int(fields[1]), int(fields[6]), int(fields[19])
    except (IndexError, ValueError):
        return None


def command_line(argv: list[str] | None) -> str | None:
    """The argument vector as one shell-quoted line, so arguments with spaces stay apart."""
    return shlex.join(argv) if argv else None


class ProcessCollector:
    """Diffs the process table between polls; the first poll reports every running process."""

    def __init__(
        self,
        machine_id: str | None,
        interval: float = DEFAULT_INTERVAL,
        boot_id: str | None = None,
    ) -> None:
        self.interval = interval
        self._machine_id = machine_id or ""
        self._boot_id = boot_id or read_boot_id()
        self._boot_time = psutil.boot_time()
        self._hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self._procfs = Path("/proc/self/stat").exists()
        self._seen: set[tuple[int, int]] | None = None
        # Processes of the first poll not reported yet, so a retry still says they were running.
        self._initial: set[tuple[int, int]] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # Identity

    def process_guid(self, pid: int, start_ticks: int) -> str:
        return str(uuid.uuid5(_GUID_NAMESPACE, f"{self._boot_id}:{pid}:{start_ticks}"))

    def event_key(self, pid: int, start_ticks: int) -> str:
        # The boot id keeps pid 1 (and any pid whose start tick repeats) apart across reboots.
        raw = f"process:{self._machine_id}:{self._boot_id}:{pid}:{start_ticks}"
        return hashlib.sha256(raw.encode()).hexdigest()

    def start_time(self, start_ticks: int) -> datetime:
        return datetime.fromtimestamp(self._boot_time + start_ticks / self._hz, UTC)

    # Polling

    def _snapshot(self) -> dict[int, _Proc]:
        procs: dict[int, _Proc] = {}
        for proc in psutil.process_iter(_ATTRS, ad_value=None):
            info = proc.info
            if self._procfs:
                stat = _read_stat(proc.pid)
                if stat is None or stat[1] & _PF_KTHREAD:
                    continue
                ppid, start_ticks = stat[0], stat[2]
                try:
                    drift = abs(proc.create_time() - (self._boot_time + start_ticks / self._hz))
                except psutil.Error:
                    continue
                if drift > 1.0:  # the pid was reused between the two reads; next poll sees it
                    continue
            else:
                try:
                    start_ticks = round((proc.create_time() - self._boot_time) * self._hz)
                except psutil.Error:
                    continue
                ppid = info.get("ppid")
            procs[proc.pid] = _Proc(
                pid=proc.pid,
                ppid=ppid,
                start_ticks=start_ticks,
                image=info.get("exe") or None,
                argv=info.get("cmdline") or None,
                user=info.get("username") or None,
            )
        return procs

    def _event(
        self, proc: _Proc, parent: _Proc | None, running_at_start: bool
    ) -> protocol.AgentEvent:
        fields: dict[str, object] = {
            "collector": "poll",
            "running_at_agent_start": running_at_start,
        }
        # Everything read from /proc is untrusted text: argv may hold any bytes.
        text: dict[str, str | None] = {}
        for name, value, limit in (
            ("command_line", command_line(proc.argv), LONG),
            ("parent_command_line", command_line(parent.argv) if parent else None, LONG),
            ("image", proc.image, PATH),
            ("parent_image", parent.image if parent else None, PATH),
            ("user", proc.user, SHORT),
        ):
            text[name], truncated = fit(value, limit)
            if truncated:
                fields[f"{name}_truncated"] = True
        # Limitation: no process_sha256 yet; hashing every new image on each poll is left to
        # the audit-based collector, which sees each exec once.
        return protocol.AgentEvent(
            key=self.event_key(proc.pid, proc.start_ticks),
            time=self.start_time(proc.start_ticks),
            kind="process",
            action_type="ProcessCreated",
            user=text["user"],
            process_id=proc.pid,
            process_image=text["image"],
            process_command_line=text["command_line"],
            process_guid=self.process_guid(proc.pid, proc.start_ticks),
            parent_process_id=proc.ppid,
            parent_process_image=text["parent_image"],
            parent_process_command_line=text["parent_command_line"],
            parent_process_guid=(
                self.process_guid(parent.pid, parent.start_ticks) if parent else None
            ),
            fields=fields,
        )

    def poll(self, errors: list[str] | None = None) -> list[protocol.AgentEvent]:
        """Events for processes not seen by the previous poll, oldest first.

        A process whose event cannot be built is left out, with a message in `errors`, and
        is tried again by the next poll.
        """
        procs = self._snapshot()
        current = {(p.pid, p.start_ticks) for p in procs.values()}
        if self._seen is None:
            self._initial = set(current)
            new = current
        else:
            self._initial &= current
            new = current - self._seen

        events = []
        failed: set[tuple[int, int]] = set()
        for ident in sorted(new, key=lambda ident: (ident[1], ident[0])):
            proc = procs[ident[0]]
            parent = procs.get(proc.ppid) if proc.ppid else None
            # A parent pid reused by a younger process is not the parent.
            if parent is not None and parent.start_ticks > proc.start_ticks:
                parent = None
            try:
                events.append(self._event(proc, parent, ident in self._initial))
            except Exception as exc:  # one odd process must not cost the rest of the poll
                failed.add(ident)
                message = clean(f"process {proc.pid}: {type(exc).__name__}: {exc}", LONG) or ""
                logger.warning("process collector skipped %s", message)
                if errors is not None:
                    errors.append(message)
            else:
                self._initial.discard(ident)
        self._seen = current - failed
        return events

    # Background thread

    def start(
        self,
        sink: Callable[[list[protocol.AgentEvent]], None],
        on_error: Callable[[str | None], None] | None = None,
    ) -> None:
        """Poll every `interval` seconds in a thread, handing new events to `sink`."""
        # Limitation: a process that starts and exits between two polls is never seen;
        # the audit-based collector closes that gap.
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, args=(sink, on_error), name="hostwatch-process-poll", daemon=True
        )
        self._thread.start()

    def _run(
        self,
        sink: Callable[[list[protocol.AgentEvent]], None],
        on_error: Callable[[str | None], None] | None,
    ) -> None:
        while not self._stop.is_set():
            errors: list[str] = []
            try:
                events = self.poll(errors)
                if events:
                    sink(events)
            except Exception as exc:  # keep collecting whatever one poll ran into
                logger.exception("process poll failed")
                if on_error is not None:
                    on_error(f"process collector: {type(exc).__name__}: {exc}")
            else:
                if on_error is not None:
                    on_error(f"process collector: {'; '.join(errors)}" if errors else None)
            self._stop.wait(self.interval)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
