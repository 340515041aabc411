"""response actions, and the containment each device's agent last read back

Revision ID: 0011
Revises: 0008
Create Date: 2026-12-05 01:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import hostwatch.db.base

revision = "0011"
down_revision = "0008"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("containment", _JSON, nullable=True))
    op.create_table(
        "response_actions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("device_id", sa.String(length=36), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("parameters", _JSON, nullable=False),
        sa.Column("requested_by", sa.String(length=128), nullable=False),
        sa.Column("requested_at", hostwatch.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", hostwatch.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("started_at", hostwatch.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("completed_at", hostwatch.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("expires_at", hostwatch.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("cancelled_by", sa.String(length=128), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("evidence", _JSON, nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_response_actions_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_response_actions")),
    )
    op.create_index(
        "ix_response_actions_device_requested",
        "response_actions",
        ["device_id", "requested_at"],
    )
    op.create_index(
        "ix_response_actions_state_expires", "response_actions", ["state", "expires_at"]
    )
    op.create_index("ix_response_actions_requested_at", "response_actions", ["requested_at"])


def downgrade() -> None:
    op.drop_index("ix_response_actions_requested_at", table_name="response_actions")
    op.drop_index("ix_response_actions_state_expires", table_name="response_actions")
    op.drop_index("ix_response_actions_device_requested", table_name="response_actions")
    op.drop_table("response_actions")
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_column("containment")
