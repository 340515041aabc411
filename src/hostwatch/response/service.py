"""The action state machine: request, deliver, report, cancel and expire.

requested -> delivered (handed to the agent in a heartbeat answer) -> running -> succeeded |
failed, reported by the agent; requested -> cancelled by a user before delivery; requested |
delivered -> expired once expires_at passes without a report. Every change but delivery is
audited; delivery is recorded in the action itself (delivered_at).
"""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from sqlalchemy import and_, case, select, update
from sqlalchemy.orm import Session

from hostwatch import protocol
from hostwatch.auth import audit
from hostwatch.auth.roles import Role
from hostwatch.devices.models import AgentCredential, Device
from hostwatch.errors import Conflict, Forbidden, InvalidInput, NotFound
from hostwatch.response.models import FINISHED, IN_FLIGHT, WAITING, Action

log = logging.getLogger(__name__)

DEFAULT_EXPIRY = timedelta(days=7)
# Once delivered, the device has this long to report a result. Containment takes seconds;
# a device that says nothing by then (the agent stopped mid-action, a report lost) is shown
# expired, so no action claims to be under way when nothing is.
RESULT_DEADLINE = timedelta(minutes=15)
# Why an action expired, by the state it was in.
EXPIRY_MESSAGES = {
    "requested": "expired before the device asked for its work",
    "delivered": "expired: delivered, but the device did not report on it in time",
    "running": "expired: the device started it but reported no result in time (the agent may "
    "have stopped); the sidebar shows the containment the device last reported",
}
# The evidence of one report, as JSON: enough for rule sets and file hashes, no more.
MAX_EVIDENCE_BYTES = 256 * 1024
CONTAINMENT_TYPES = frozenset(protocol.AGENT_ACTION_TYPES)


class _NoParameters(BaseModel):
    model_config = ConfigDict(extra="forbid")


# nft's own syntax, where cgroup paths go, has no escape for these (agent/isolation.py).
_CGROUP_UNSAFE = re.compile(r'["\\\x00-\x1f\x7f]')
# Whitespace, control characters and the passwd separator are in no user name a device has.
_USER_UNSAFE = re.compile(r"[\s\x00-\x1f\x7f:]")


class _IsolateRequest(protocol.IsolateParameters):
    """What a user may ask for: the agent refuses these values too, but only once the action
    reached the device; the server names the field at once."""

    @field_validator("allow_users")
    @classmethod
    def _users(cls, values: list[str]) -> list[str]:
        for value in values:
            if not value or _USER_UNSAFE.search(value):
                raise ValueError(
                    f"{value!r} is not a user name or uid (empty, or has whitespace, control "
                    "characters or ':')"
                )
            if value.isdigit() and int(value) > 2**32 - 2:
                raise ValueError(f"{value!r} is not a valid uid")
        return values

    @field_validator("allow_cgroups")
    @classmethod
    def _cgroups(cls, values: list[str]) -> list[str]:
        for value in values:
            parts = value.strip("/").split("/")
            if _CGROUP_UNSAFE.search(value) or {"", ".", ".."} & set(parts):
                raise ValueError(
                    f"{value!r} is not a cgroup path nftables can take (a path under the cgroup "
                    "root without quotes, backslashes, control characters, '.' or '..')"
                )
        return values


class _RestrictRequest(protocol.RestrictParameters):
    """Paths resolve on the device; a relative one (or an empty one) would resolve against the
    agent's working directory, '' to the directory itself, so only absolute paths are taken."""

    @field_validator("allow_paths", "scope")
    @classmethod
    def _absolute(cls, values: list[str]) -> list[str]:
        for value in values:
            if not value.startswith("/"):
                raise ValueError(f"{value!r} is not an absolute path")
        return values


_PARAMETERS: dict[str, type[BaseModel]] = {
    protocol.ISOLATE: _IsolateRequest,
    protocol.RELEASE_ISOLATION: _NoParameters,
    protocol.RESTRICT_APP_EXECUTION: _RestrictRequest,
    protocol.REMOVE_APP_RESTRICTION: _NoParameters,
}


def required_role(action_type: str) -> Role:
    """Containing a device needs a responder; the other actions (scans, later) an analyst."""
    return Role.responder if action_type in CONTAINMENT_TYPES else Role.analyst


def check_role(role: Role, name: str, action_type: str) -> None:
    needed = required_role(action_type)
    if not role.allows(needed):
        raise Forbidden(
            f"{action_type} needs the {needed.value} role; {name} has the {role.value} role"
        )


def check_parameters(action_type: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """The parameters in their canonical form, or a 422 naming each bad field."""
    model = _PARAMETERS.get(action_type)
    if model is None:
        raise InvalidInput(
            f"action type {action_type!r} is not supported",
            errors=[{"field": "type", "message": "unsupported action type"}],
        )
    try:
        checked = model.model_validate(parameters)
    except ValidationError as exc:
        errors = [
            {
                "field": ".".join(["parameters", *(str(p) for p in e["loc"])]),
                "message": e["msg"],
            }
            for e in exc.errors()[:50]
        ]
        names = ", ".join(dict.fromkeys(e["field"] for e in errors))
        raise InvalidInput(
            f"the parameters of {action_type} are not valid: {names}", errors=errors
        ) from None
    return checked.model_dump(mode="json")


def _agent_of(session: Session, device: Device) -> AgentCredential:
    agent = session.get(AgentCredential, device.id)
    if agent is None:
        known = ", ".join(device.sources or []) or "no source"
        raise Conflict(
            f"device {device.hostname} ({device.id}) has no Hostwatch agent (known from {known}); "
            "response actions need an enrolled agent to run them"
        )
    if agent.revoked_at is not None:
        raise Conflict(
            f"the agent of device {device.hostname} ({device.id}) was revoked; enroll it again "
            "before acting on the device"
        )
    return agent


def request_action(
    session: Session,
    device: Device,
    *,
    actor: str,
    role: Role,
    action_type: str,
    parameters: dict[str, Any],
    comment: str,
    expires_in: timedelta | None,
    now: datetime,
) -> Action:
    check_role(role, actor, action_type)
    comment = comment.strip()
    if action_type in CONTAINMENT_TYPES and not comment:
        raise InvalidInput(
            f"{action_type} needs a comment saying why",
            errors=[{"field": "comment", "message": "required for containment actions"}],
        )
    checked = check_parameters(action_type, parameters)
    _agent_of(session, device)

    # Two requests for one device at once must not both pass the in-flight check
    # (PostgreSQL; SQLite has one writer).
    session.execute(select(Device.id).where(Device.id == device.id).with_for_update())
    expire_due(session, now, device.id)
    busy = session.scalar(
        select(Action)
        .where(
            Action.device_id == device.id,
            Action.type == action_type,
            Action.state.in_(IN_FLIGHT),
        )
        .limit(1)
    )
    if busy is not None:
        raise Conflict(
            f"device {device.hostname} already has a {action_type} action in flight "
            f"({busy.id}, {busy.state}); cancel it or wait for its result"
        )

    action = Action(
        device_id=device.id,
        type=action_type,
        state="requested",
        comment=comment,
        parameters=checked,
        requested_by=actor,
        requested_at=now,
        expires_at=now + (expires_in or DEFAULT_EXPIRY),
    )
    session.add(action)
    session.flush()
    log.info(
        "action %s (%s) requested for device %s by %s", action.id, action_type, device.id, actor
    )
    return action


def expire_due(session: Session, now: datetime, device_id: str | None = None) -> list[str]:
    """Mark the actions past their expiry without a report as expired, and audit each.

    One conditional UPDATE: when two transactions expire at once, the second finds the rows
    no longer waiting and neither expires nor audits them again.

    Limitation: there is no periodic task, so the expiry is written down (and audited) at
    the next read of actions, the next request or cancel, or the device's next heartbeat or
    report; until then reads show the action expired (effective_state). Its completed_at is
    expires_at, but its audit entry carries the time it was written down.
    """
    conditions = [Action.state.in_(WAITING), Action.expires_at <= now]
    if device_id is not None:
        conditions.append(Action.device_id == device_id)
    rows = session.execute(
        update(Action)
        .where(*conditions)
        .values(
            state="expired",
            completed_at=Action.expires_at,
            message=case(
                *((Action.state == state, text) for state, text in EXPIRY_MESSAGES.items())
            ),
        )
        .returning(Action.id, Action.device_id, Action.type),
        # Callers read actions again with populate_existing (see _locked), so the session's
        # copies need no update here.
        execution_options={"synchronize_session": False},
    ).all()
    for action_id, device, action_type in rows:
        audit.record(
            session,
            actor="hostwatch",
            actor_kind="system",
            action="action.expire",
            target=action_id,
            detail={"device_id": device, "type": action_type},
        )
        log.info("action %s (%s) of device %s expired", action_id, action_type, device)
    return [row[0] for row in rows]


def has_due(session: Session, now: datetime, device_id: str | None = None) -> bool:
    query = select(Action.id).where(Action.state.in_(WAITING), Action.expires_at <= now)
    if device_id is not None:
        query = query.where(Action.device_id == device_id)
    return session.scalar(query.limit(1)) is not None


def deliver(session: Session, device_id: str, now: datetime) -> list[protocol.PendingAction]:
    """The device's requested actions, marked delivered in the caller's transaction.

    A conditional UPDATE hands each action out once, even to two heartbeats at once: the
    second finds it delivered already. Every heartbeat calls this, and most find nothing
    waiting: one indexed read answers those.
    """
    waiting = session.execute(
        select(Action.state, Action.expires_at).where(
            Action.device_id == device_id, Action.state.in_(WAITING)
        )
    ).all()
    if not waiting:
        return []
    if any(expires_at <= now for _, expires_at in waiting):
        expire_due(session, now, device_id)
    if not any(state == "requested" and expires_at > now for state, expires_at in waiting):
        return []
    rows = session.execute(
        update(Action)
        .where(
            Action.device_id == device_id,
            Action.state == "requested",
            Action.expires_at > now,
        )
        .values(
            state="delivered",
            delivered_at=now,
            expires_at=case(
                (Action.expires_at > now + RESULT_DEADLINE, now + RESULT_DEADLINE),
                else_=Action.expires_at,
            ),
        )
        .returning(
            Action.id, Action.type, Action.parameters, Action.expires_at, Action.requested_at
        ),
        execution_options={"synchronize_session": False},
    ).all()
    ordered = sorted(rows, key=lambda r: (r.requested_at, r.id))
    for row in ordered:
        log.info("action %s (%s) delivered to device %s", row.id, row.type, device_id)
    return [
        protocol.PendingAction(
            id=row.id, type=row.type, parameters=row.parameters or {}, expires_at=row.expires_at
        )
        for row in ordered
    ]


def _locked(session: Session, action_id: str) -> Action | None:
    return session.scalar(
        select(Action)
        .where(Action.id == action_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def get_action(session: Session, action_id: str) -> Action:
    action = session.get(Action, action_id)
    if action is None:
        raise NotFound(f"no action with id {action_id!r}")
    return action


def cancel(
    session: Session, action_id: str, *, actor: str, role: Role, comment: str | None, now: datetime
) -> Action:
    found = get_action(session, action_id)
    check_role(role, actor, found.type)
    expire_due(session, now, found.device_id)
    action = _locked(session, action_id)
    assert action is not None  # actions are removed only with their device
    if action.state != "requested":
        raise Conflict(
            f"action {action.id} is {action.state}: only an action not yet delivered to the "
            "device can be cancelled"
        )
    action.state = "cancelled"
    action.cancelled_by = actor
    action.completed_at = now
    action.message = (comment or "").strip() or None
    session.flush()
    log.info("action %s cancelled by %s", action.id, actor)
    return action


def _check_evidence(evidence: dict[str, Any]) -> None:
    size = len(json.dumps(evidence, separators=(",", ":")).encode())
    if size > MAX_EVIDENCE_BYTES:
        raise InvalidInput(
            f"the evidence has {size} bytes of JSON; the limit is {MAX_EVIDENCE_BYTES}",
            errors=[{"field": "evidence", "message": "too large"}],
        )


def report(
    session: Session,
    credential: AgentCredential,
    action_id: str,
    body: protocol.ActionReport,
    *,
    now: datetime,
    address: str | None = None,
    request_id: str | None = None,
) -> protocol.ActionReportResult:
    """Apply an agent's report on one of its own device's actions."""
    device_id = credential.device_id
    expire_due(session, now, device_id)
    action = _locked(session, action_id)
    if action is None or action.device_id != device_id:
        # Another device's action is as unknown to this agent as a made-up id.
        raise NotFound(f"this device has no action with id {action_id!r}")
    if action.state in FINISHED:
        why = " (it expired before the device reported on it)" if action.state == "expired" else ""
        raise Conflict(f"action {action.id} is {action.state} and takes no more reports{why}")
    if action.state == "requested":
        raise Conflict(f"action {action.id} was not delivered to this device yet")
    if body.state == "succeeded" and not body.evidence:
        raise InvalidInput(
            "a succeeded report must carry the evidence read back from the device",
            errors=[{"field": "evidence", "message": "required when state is succeeded"}],
        )
    if body.state == "failed" and not (body.message or "").strip():
        raise InvalidInput(
            "a failed report must say why in 'message'",
            errors=[{"field": "message", "message": "required when state is failed"}],
        )
    _check_evidence(body.evidence)

    before = action.state
    action.state = body.state
    action.started_at = action.started_at or now
    # A final report's message replaces the progress text ("started by agent ..."), even
    # with nothing: a success does not go on saying it has started.
    if body.message is not None or body.state != "running":
        action.message = body.message
    if body.state != "running":
        action.completed_at = now
        action.evidence = body.evidence or None
    session.flush()
    device = session.get(Device, device_id)
    audit.record(
        session,
        actor=device.hostname if device else device_id,
        actor_kind="device",
        action="action.report",
        target=action.id,
        address=address,
        request_id=request_id,
        detail={
            "device_id": device_id,
            "type": action.type,
            "from": before,
            "state": action.state,
            "reported_at": body.at.isoformat(),
            "message": (body.message or "")[:1000] or None,
        },
    )
    log.info("action %s of device %s reported %s", action.id, device_id, action.state)
    return protocol.ActionReportResult(state=action.state)


def effective_state(now: datetime) -> Any:
    """The state as a SQL expression, with actions past their expiry shown expired even
    before a writer has marked them so."""
    return case(
        (and_(Action.state.in_(WAITING), Action.expires_at <= now), "expired"),
        else_=Action.state,
    )


def shown_state(action: Action, now: datetime) -> str:
    if action.state in WAITING and action.expires_at <= now:
        return "expired"
    return action.state


def shown_message(action: Action, now: datetime) -> str | None:
    """The message to show: why it expired, for an expiry not written down yet."""
    if action.state in WAITING and action.expires_at <= now:
        return EXPIRY_MESSAGES[action.state]
    return action.message


def pending(session: Session, device_id: str, now: datetime) -> list[Action]:
    """The device's actions not finished yet, oldest first."""
    return list(
        session.scalars(
            select(Action)
            .where(
                Action.device_id == device_id,
                Action.state.in_(IN_FLIGHT),
                ~and_(Action.state.in_(WAITING), Action.expires_at <= now),
            )
            .order_by(Action.requested_at, Action.id)
        )
    )
