"""Request and response bodies of the actions API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ActionType = Literal[
    "isolate", "release_isolation", "restrict_app_execution", "remove_app_restriction"
]
ActionState = Literal[
    "requested", "delivered", "running", "succeeded", "failed", "cancelled", "expired"
]
ActionSort = Literal[
    "requested_at", "-requested_at", "expires_at", "-expires_at", "completed_at",
    "-completed_at", "type", "-type", "state", "-state",
]  # fmt: skip

MAX_COMMENT = 2_000
# Thirty days: an action older than that no longer says what anyone wants done now.
MAX_EXPIRY_HOURS = 30 * 24


class Out(BaseModel):
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)


class ActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: ActionType
    parameters: dict[str, Any] = Field(
        default_factory=dict,
        description="isolate: IsolateParameters; restrict_app_execution: RestrictParameters; "
        "the release and removal take none",
    )
    comment: str = Field(
        default="",
        max_length=MAX_COMMENT,
        description="why; required for containment actions",
    )
    expires_in_hours: float | None = Field(
        default=None,
        gt=0,
        le=MAX_EXPIRY_HOURS,
        description="the action expires unless the device reports on it in time; 168 (7 days) "
        "when not given",
    )


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: str | None = Field(default=None, max_length=MAX_COMMENT)


class ActionOut(Out):
    id: str
    device_id: str
    device_name: str
    type: str
    state: ActionState
    comment: str
    parameters: dict[str, Any]
    requested_by: str
    requested_at: datetime
    delivered_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    expires_at: datetime
    cancelled_by: str | None
    message: str | None = Field(
        description="the agent's progress or why it failed; the cancel comment; why it expired"
    )
    evidence: dict[str, Any] | None = Field(
        description="what the agent read back from the device to show the change is in place; "
        "untrusted"
    )


class ActionItem(BaseModel):
    """One action in a list. With `fields`, only `id` and the fields asked for are present."""

    id: str
    device_id: str | None = None
    device_name: str | None = None
    type: str | None = None
    state: ActionState | None = None
    comment: str | None = None
    parameters: dict[str, Any] | None = None
    requested_by: str | None = None
    requested_at: datetime | None = None
    delivered_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    expires_at: datetime | None = None
    cancelled_by: str | None = None
    message: str | None = None
    evidence: dict[str, Any] | None = None


class ActionPage(BaseModel):
    items: list[ActionItem]
    next_cursor: str | None
    total: int
