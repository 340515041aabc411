"""security recommendations and device exposure

One recommendation per thing to do on a device (for now: update a vulnerable product), with
its status and exception; each device's exposure level and score.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 21:50:07.018956
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import hostwatch.db.base

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recommendations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("device_id", sa.String(length=36), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=320), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("component", sa.String(length=255), nullable=False),
        sa.Column("vendor", sa.String(length=255), nullable=True),
        sa.Column("software_source", sa.String(length=16), nullable=True),
        sa.Column("fixed_version", sa.String(length=255), nullable=True),
        sa.Column("weakness_count", sa.Integer(), nullable=False),
        sa.Column("exploited_count", sa.Integer(), nullable=False),
        sa.Column("ransomware_count", sa.Integer(), nullable=False),
        sa.Column("highest_cvss", sa.Double(), nullable=True),
        sa.Column("exposure_reduction", sa.Integer(), nullable=False),
        sa.Column(
            "components",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "weaknesses",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("exception_justification", sa.Text(), nullable=True),
        sa.Column("exception_expires", hostwatch.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("exception_by", sa.String(length=128), nullable=True),
        sa.Column("exception_at", hostwatch.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", hostwatch.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("first_seen", hostwatch.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", hostwatch.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_recommendations_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recommendations")),
        sa.UniqueConstraint(
            "device_id", "source", "subject", name=op.f("uq_recommendations_device_id")
        ),
    )
    with op.batch_alter_table("recommendations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_recommendations_device_status", ["device_id", "status"], unique=False
        )

    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("exposure_level", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("exposure_score", sa.Integer(), nullable=True))
        batch_op.create_index("ix_devices_exposure_level", ["exposure_level"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_index("ix_devices_exposure_level")
        batch_op.drop_column("exposure_score")
        batch_op.drop_column("exposure_level")

    with op.batch_alter_table("recommendations", schema=None) as batch_op:
        batch_op.drop_index("ix_recommendations_device_status")

    op.drop_table("recommendations")
