"""feed download state and case-insensitive software name indexes

What `hostwatch feeds update` remembers per download location (HTTP validators, NVD's
window mark, last success and error), and indexes on lower(name) and lower(source_package)
of installed software, through which a feed change finds the devices it concerns.

Revision ID: 0008
Revises: 0010
Create Date: 2026-12-04 22:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hostwatch.db.base

revision = "0008"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vuln_feed_sources",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("etag", sa.Text(), nullable=True),
        sa.Column("last_modified", sa.String(length=64), nullable=True),
        sa.Column("nvd_mark", hostwatch.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_attempt", hostwatch.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_success", hostwatch.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_status", sa.String(length=16), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_vuln_feed_sources")),
    )
    op.create_index("ix_software_lower_name", "software", [sa.text("lower(name)")])
    op.create_index(
        "ix_software_lower_source_package", "software", [sa.text("lower(source_package)")]
    )


def downgrade() -> None:
    op.drop_index("ix_software_lower_source_package", table_name="software")
    op.drop_index("ix_software_lower_name", table_name="software")
    op.drop_table("vuln_feed_sources")
