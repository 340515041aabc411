"""The agent's hold on the kernel audit subsystem: set up on start, undone exactly on stop.

Starting takes the audit daemon slot, enables auditing if it was off, raises the kernel's
backlog limit and adds the agent's rules; closing undoes each of those that it did, in
reverse, and is safe to call twice. An exit handler calls it too, so an exception that
escapes the agent does not leave rules behind.
"""

from __future__ import annotations

import atexit
import logging
import threading

from hostwatch.agent.audit.netlink import (
    AuditError,
    AuditRule,
    AuditSocket,
    AuditStatus,
    AuditUnavailable,
)
from hostwatch.agent.audit.rules import (
    DEFAULT_KEY,
    agent_rules,
    ahead,
    install_rules,
    remove_rules,
)

logger = logging.getLogger(__name__)

DEFAULT_BACKLOG_LIMIT = 8192
DEFAULT_RECEIVE_BUFFER = 8 << 20
AUDIT_LOCKED = 2  # `enabled` value of an immutable configuration (auditctl -e 2)


class AuditSession:
    def __init__(
        self,
        key: str = DEFAULT_KEY,
        rules: list[AuditRule] | None = None,
        backlog_limit: int = DEFAULT_BACKLOG_LIMIT,
        receive_buffer: int = DEFAULT_RECEIVE_BUFFER,
    ) -> None:
        self.key = key
        self.rules = rules if rules is not None else agent_rules(key)
        self.backlog_limit = backlog_limit
        self.receive_buffer = receive_buffer
        self.lost_at_start = 0
        self._lock = threading.Lock()
        self._control: AuditSocket | None = None
        self._events: AuditSocket | None = None
        self._registered = False
        self._restore_enabled: int | None = None
        self._restore_backlog: int | None = None
        self._rules_added = False

    @property
    def events(self) -> AuditSocket:
        assert self._events is not None, "open() first"
        return self._events

    def open(self) -> None:
        """Take the daemon slot and add the rules; on any failure, undo what was done."""
        atexit.register(self.close)
        try:
            self._open()
        except BaseException:
            self.close()
            raise

    def _open(self) -> None:
        self._control = AuditSocket()
        status = self._control.status()
        if status.enabled == AUDIT_LOCKED:
            raise AuditUnavailable(
                "the audit configuration is locked (enabled=2) until reboot; rules cannot be added"
            )
        self.lost_at_start = status.lost
        # Records go to the socket that registers, so a second socket keeps them apart from
        # the control replies.
        self._events = AuditSocket(receive_buffer=self.receive_buffer)
        self._events.register()
        self._registered = True
        if not status.enabled:
            self._control.set_status(enabled=1)
            self._restore_enabled = status.enabled
        if 0 < status.backlog_limit < self.backlog_limit:
            self._control.set_status(backlog_limit=self.backlog_limit)
            self._restore_backlog = status.backlog_limit
        self._rules_added = True  # set first: a failure half-way still removes what was added
        install_rules(self._control, self.rules, self.key)
        logger.info(
            "audit collector registered with the kernel: %s rules with key %s",
            len(self.rules),
            self.key,
        )

    def status(self) -> AuditStatus:
        with self._lock:
            if self._control is None:
                raise AuditError("the audit session is closed")
            return self._control.status()

    def add_rule(self, rule: AuditRule) -> None:
        """Add one more rule (a watch whose place appeared); it must carry the session's key,
        so that closing removes it with the others."""
        if self.key not in rule.keys:
            raise ValueError(f"rule for syscalls {sorted(rule.syscalls)[:8]} lacks key {self.key}")
        with self._lock:
            if self._control is None or not self._rules_added:
                raise AuditError("the audit session is closed")
            self._control.add_rule(ahead(rule))

    def remove_rules(self) -> None:
        """Delete the agent's rules (and only those); new events stop coming."""
        with self._lock:
            if not self._rules_added or self._control is None:
                return
            removed = remove_rules(self._control, self.key)
            self._rules_added = False
        logger.info("removed %s audit rules with key %s", removed, self.key)

    def close(self) -> None:
        """Undo everything open() did; each step is tried even if an earlier one failed."""
        atexit.unregister(self.close)
        problems: list[str] = []
        try:
            self.remove_rules()
        except AuditError as exc:
            problems.append(f"removing the rules: {exc}")
        with self._lock:
            control = self._control
            steps = []
            if self._registered and control is not None:
                steps.append(("leaving the daemon slot", lambda: control.set_status(pid=0)))
            if self._restore_backlog is not None and control is not None:
                backlog = self._restore_backlog
                steps.append(
                    ("restoring the backlog", lambda: control.set_status(backlog_limit=backlog))
                )
            if self._restore_enabled is not None and control is not None:
                enabled = self._restore_enabled
                steps.append(("disabling audit", lambda: control.set_status(enabled=enabled)))
            for what, step in steps:
                try:
                    step()
                except AuditError as exc:
                    problems.append(f"{what}: {exc}")
            self._registered = False
            self._restore_backlog = self._restore_enabled = None
            for sock in (self._events, self._control):
                if sock is not None:
                    sock.close()
            self._events = self._control = None
        for problem in problems:
            logger.error("audit cleanup incomplete: %s", problem)
