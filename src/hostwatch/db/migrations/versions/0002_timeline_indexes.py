"""timeline indexes

The timeline's time index also holds the kind, so kind filters and counts read only the
index; process-tree lookups get partial indexes over process events.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 16:05:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

PROCESS_ONLY = sa.text("kind = 'process'")


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_device_time")
        batch_op.create_index(
            "ix_events_device_time_kind", ["device_id", "time", "id", "kind"], unique=False
        )
        for name, column in (
            ("ix_events_process_guid", "process_guid"),
            ("ix_events_process_parent_guid", "parent_process_guid"),
            ("ix_events_process_pid", "process_id"),
        ):
            batch_op.create_index(
                name,
                ["device_id", column, "action_type", "time"],
                unique=False,
                sqlite_where=PROCESS_ONLY,
                postgresql_where=PROCESS_ONLY,
            )


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_process_pid")
        batch_op.drop_index("ix_events_process_parent_guid")
        batch_op.drop_index("ix_events_process_guid")
        batch_op.drop_index("ix_events_device_time_kind")
        batch_op.create_index("ix_events_device_time", ["device_id", "time", "id"], unique=False)
