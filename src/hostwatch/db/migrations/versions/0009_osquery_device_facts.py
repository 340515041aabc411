"""osquery device facts: OS build, release and edition, product codes, installed hotfixes

Revision ID: 0009
Revises: 0005 (the chain is set when the parallel branches land)
Create Date: 2026-12-04 22:05:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hostwatch.db.base

revision = "0009"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("os_build", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("os_release", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("os_edition", sa.String(length=64), nullable=True))
    with op.batch_alter_table("software", schema=None) as batch_op:
        batch_op.add_column(sa.Column("product_code", sa.Text(), nullable=True))
    op.create_table(
        "device_hotfixes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("device_id", sa.String(length=36), nullable=False),
        sa.Column("hotfix_id", sa.String(length=64), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=True),
        sa.Column("installed_on", hostwatch.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("first_seen", hostwatch.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen", hostwatch.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_device_hotfixes_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_hotfixes")),
        sa.UniqueConstraint("device_id", "hotfix_id", name=op.f("uq_device_hotfixes_device_id")),
    )


def downgrade() -> None:
    op.drop_table("device_hotfixes")
    with op.batch_alter_table("software", schema=None) as batch_op:
        batch_op.drop_column("product_code")
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_column("os_edition")
        batch_op.drop_column("os_release")
        batch_op.drop_column("os_build")
