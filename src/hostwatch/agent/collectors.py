"""The agent's collectors in one place: host facts, logged-on users, software, processes
(polled, or from the kernel audit subsystem) and connections."""

from __future__ import annotations

from hostwatch.agent.audit.collector import AuditCollector
from hostwatch.agent.host import collect_host_facts, collect_logged_on_users
from hostwatch.agent.processes import ProcessCollector
from hostwatch.agent.software import collect_software

__all__ = [
    "AuditCollector",
    "ProcessCollector",
    "collect_host_facts",
    "collect_logged_on_users",
    "collect_software",
]
