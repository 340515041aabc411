"""The actions table: one row per response action asked of one device."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hostwatch.db.base import Base, JSONType, new_id, utcnow

# requested -> delivered -> running -> succeeded | failed; requested -> cancelled;
# requested | delivered | running -> expired.
STATES = ("requested", "delivered", "running", "succeeded", "failed", "cancelled", "expired")
# Waiting for the device: these expire once their time has passed without a final report.
# Delivery shortens that time to the result deadline (service.RESULT_DEADLINE), so an agent
# that dies mid-action leaves the action expired, never "running" for ever.
WAITING = ("requested", "delivered", "running")
# Not finished yet: shown as pending in the sidebar.
IN_FLIGHT = ("requested", "delivered", "running")
FINISHED = ("succeeded", "failed", "cancelled", "expired")


class Action(Base):
    __tablename__ = "response_actions"
    __table_args__ = (
        Index("ix_response_actions_device_requested", "device_id", "requested_at"),
        Index("ix_response_actions_state_expires", "state", "expires_at"),
        Index("ix_response_actions_requested_at", "requested_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="requested")
    comment: Mapped[str] = mapped_column(Text, default="")
    parameters: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    requested_by: Mapped[str] = mapped_column(String(128))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
    expires_at: Mapped[datetime]
    cancelled_by: Mapped[str | None] = mapped_column(String(128), default=None)
    # Progress, the reason of a failure, or the comment of a cancel.
    message: Mapped[str | None] = mapped_column(Text, default=None)
    # What the agent read back from the device to prove a success; untrusted.
    evidence: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
