"""The entity graph of one event: its process's ancestors and children, and what it touched.

Processes are linked by their unique ids (Sysmon ProcessGuid, the agent's guid) where the
events have them, and otherwise by parent process id and start time. Every lookup stays
inside the event's own device.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, literal, select
from sqlalchemy.orm import Session

from hostwatch.errors import NotFound
from hostwatch.events import schemas
from hostwatch.events.models import PROCESS_CREATED, PROCESS_KIND, Event

MAX_DEPTH = 16
MAX_CHILDREN = 50

_COLUMNS = (
    Event.id,
    Event.time,
    Event.user,
    Event.process_id,
    Event.process_image,
    Event.process_command_line,
    Event.process_guid,
    Event.process_sha256,
    Event.parent_process_id,
    Event.parent_process_image,
    Event.parent_process_command_line,
    Event.parent_process_guid,
)


@dataclass(frozen=True)
class Proc:
    """A process as far as the events tell: from its creation event, or from what another
    event says about it."""

    node_id: str
    pid: int | None
    guid: str | None
    image: str | None
    command_line: str | None
    user: str | None = None
    sha256: str | None = None
    started: datetime | None = None
    creation_event: int | None = None
    # What the process's own record says of its parent, and when that record was made.
    parent_guid: str | None = None
    parent_pid: int | None = None
    parent_image: str | None = None
    parent_command_line: str | None = None
    seen_at: datetime | None = None


def _node_id(guid: str | None, pid: int | None, anchor: int) -> str:
    # Without a guid a pid names a process only together with the event that saw it.
    return f"process:{guid}" if guid else f"process:pid:{pid}:event:{anchor}"


def _proc(record: Any, *, created: bool) -> Proc:
    """A process from an event row: its creation record, or another event it acted in."""
    return Proc(
        node_id=_node_id(record.process_guid, record.process_id, record.id),
        pid=record.process_id,
        guid=record.process_guid,
        image=record.process_image,
        command_line=record.process_command_line,
        user=record.user,
        sha256=record.process_sha256,
        started=record.time if created else None,
        creation_event=record.id if created else None,
        parent_guid=record.parent_process_guid,
        parent_pid=record.parent_process_id,
        parent_image=record.parent_process_image,
        parent_command_line=record.parent_process_command_line,
        seen_at=record.time,
    )


def _parent_as_told(child: Proc, anchor: int) -> Proc | None:
    """The parent as the child's record describes it, when no record of its own is found."""
    if child.parent_guid is None and child.parent_pid is None and not child.parent_image:
        return None
    return Proc(
        node_id=_node_id(child.parent_guid, child.parent_pid, child.creation_event or anchor),
        pid=child.parent_pid,
        guid=child.parent_guid,
        image=child.parent_image,
        command_line=child.parent_command_line,
    )


class _Lookup:
    """Process-creation records of one device."""

    def __init__(self, session: Session, device_id: str) -> None:
        self.session = session
        self.device_id = device_id

    def _creations(self) -> Select[*tuple[Any, ...]]:
        # The kind is written into the SQL so that the partial process indexes apply.
        is_process: ColumnElement[bool] = Event.kind == literal(PROCESS_KIND, literal_execute=True)
        return select(*_COLUMNS).where(
            Event.device_id == self.device_id, is_process, Event.action_type == PROCESS_CREATED
        )

    def by_guid(self, guid: str) -> Proc | None:
        query = self._creations().where(Event.process_guid == guid)
        row = self.session.execute(query.order_by(Event.time, Event.id).limit(1)).first()
        return _proc(row, created=True) if row else None

    def by_pid(self, pid: int, before: datetime) -> Proc | None:
        # Limitation: process ids are reused, so the parent is taken to be the newest process
        # with that id started at or before the child; whether it had exited by then is not
        # known from creation records alone.
        query = self._creations().where(Event.process_id == pid, Event.time <= before)
        row = self.session.execute(
            query.order_by(Event.time.desc(), Event.id.desc()).limit(1)
        ).first()
        return _proc(row, created=True) if row else None

    def children(self, guid: str, limit: int) -> list[Proc]:
        query = self._creations().where(Event.parent_process_guid == guid)
        found = self.session.execute(query.order_by(Event.time, Event.id).limit(limit)).all()
        return [_proc(row, created=True) for row in found]

    def parent_of(self, child: Proc, anchor: int) -> Proc | None:
        found = None
        if child.parent_guid:
            found = self.by_guid(child.parent_guid)
        elif child.parent_pid is not None and child.seen_at is not None:
            found = self.by_pid(child.parent_pid, child.seen_at)
            if found is not None and found.creation_event == child.creation_event:
                found = None
        return found or _parent_as_told(child, anchor)


class _Graph:
    def __init__(self) -> None:
        self.nodes: dict[str, schemas.Node] = {}
        self.edges: list[schemas.Edge] = []

    def add(self, node_id: str, kind: schemas.NodeType, label: str, **details: Any) -> str:
        if node_id not in self.nodes:
            self.nodes[node_id] = schemas.Node(id=node_id, type=kind, label=label, details=details)
        return node_id

    def add_process(self, proc: Proc) -> str:
        return self.add(
            proc.node_id,
            "process",
            _process_label(proc),
            pid=proc.pid,
            guid=proc.guid,
            image=proc.image,
            command_line=proc.command_line,
            user=proc.user,
            sha256=proc.sha256,
            started=proc.started,
            event_id=proc.creation_event,
        )

    def link(self, source: str, target: str, relation: str) -> None:
        self.edges.append(schemas.Edge(from_=source, to=target, relation=relation))


def _process_label(proc: Proc) -> str:
    if proc.image:
        return proc.image.replace("/", "\\").rsplit("\\", 1)[-1] or proc.image
    return f"pid {proc.pid}" if proc.pid is not None else "unknown process"


def _own_process(lookup: _Lookup, event: Event) -> Proc | None:
    if event.kind == PROCESS_KIND and event.action_type == PROCESS_CREATED:
        return _proc(event, created=True)
    found = None
    if event.process_guid:
        found = lookup.by_guid(event.process_guid)
    elif event.process_id is not None:
        found = lookup.by_pid(event.process_id, event.time)
    acted = event.process_guid or event.process_id is not None or event.process_image
    if found is None and acted:
        found = _proc(event, created=False)
    return found


def _add_targets(graph: _Graph, event: Event, actor: str | None) -> None:
    relation = event.action_type or event.kind
    targets: list[str] = []
    if event.target_file:
        targets.append(graph.add(f"file:{event.target_file}", "file", event.target_file))
    if event.target_registry_key:
        targets.append(
            graph.add(
                f"registry:{event.target_registry_key}",
                "registry",
                event.target_registry_key,
                key=event.target_registry_key,
                value=event.target_registry_value,
            )
        )
    if event.remote_address or event.remote_port is not None:
        endpoint = f"{event.remote_address or '?'}:{event.remote_port or '?'}"
        targets.append(
            graph.add(
                f"network:{endpoint}",
                "network",
                endpoint,
                remote_address=event.remote_address,
                remote_port=event.remote_port,
                local_address=event.local_address,
                local_port=event.local_port,
            )
        )
    if event.dns_name:
        targets.append(graph.add(f"dns:{event.dns_name}", "dns", event.dns_name))
    if actor is not None:
        for target in targets:
            graph.link(actor, target, relation)


def _add_ancestors(graph: _Graph, lookup: _Lookup, own: Proc, anchor: int) -> bool:
    """Walk up from the process; true when the depth bound cut the walk short."""
    child = own
    for _ in range(MAX_DEPTH):
        parent = lookup.parent_of(child, anchor)
        if parent is None or parent.node_id in graph.nodes:
            # The top; or a loop, which only bad data makes.
            return False
        graph.link(graph.add_process(parent), child.node_id, "created")
        child = parent
    return lookup.parent_of(child, anchor) is not None


def _add_children(graph: _Graph, lookup: _Lookup, own: Proc) -> bool:
    """Add the processes it started; true when there were more than the bound."""
    # Limitation: children are found by process guid only; a process known by its pid
    # alone shows its ancestors but not its children.
    if not own.guid:
        return False
    children = lookup.children(own.guid, MAX_CHILDREN + 1)
    for kid in children[:MAX_CHILDREN]:
        if kid.node_id not in graph.nodes:
            graph.link(own.node_id, graph.add_process(kid), "created")
    return len(children) > MAX_CHILDREN


def process_tree(session: Session, event_id: int) -> schemas.ProcessTree:
    event = session.get(Event, event_id)
    if event is None:
        raise NotFound(f"no event with id {event_id}")
    lookup = _Lookup(session, event.device_id)
    graph = _Graph()

    focus = None
    truncated = False
    own = _own_process(lookup, event)
    if own is not None:
        focus = graph.add_process(own)
        truncated = _add_ancestors(graph, lookup, own, event.id)
        truncated = _add_children(graph, lookup, own) or truncated
    user = graph.add(f"user:{event.user}", "user", event.user) if event.user else None
    if user and focus:
        graph.link(user, focus, "ran")
    _add_targets(graph, event, focus or user)

    return schemas.ProcessTree(
        event_id=event.id,
        device_id=event.device_id,
        focus=focus,
        nodes=list(graph.nodes.values()),
        edges=graph.edges,
        truncated=truncated,
    )
