"""finding scores and analyst markings

Each finding keeps its vulnerability's computed CVSS, severity, dates and KEV flag (so the
discovered vulnerabilities tab filters and sorts in SQL), and an analyst's marking (false
positive or accepted risk) with its reason, expiry and author.

Revision ID: 0006
Revises: 0009 (the osquery device facts landed first)
Create Date: 2026-12-04 21:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hostwatch.db.base

revision = "0006"
down_revision = "0009"
branch_labels = None
depends_on = None

_TIME = hostwatch.db.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("vuln_findings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("severity", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("cvss_score", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("cvss_version", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("cvss_vector", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("published", _TIME, nullable=True))
        batch_op.add_column(sa.Column("updated", _TIME, nullable=True))
        batch_op.add_column(
            sa.Column("kev", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("marking", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("marking_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("marking_expires", _TIME, nullable=True))
        batch_op.add_column(sa.Column("marked_by", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("marked_at", _TIME, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("vuln_findings", schema=None) as batch_op:
        for name in (
            "marked_at",
            "marked_by",
            "marking_expires",
            "marking_reason",
            "marking",
            "kev",
            "updated",
            "published",
            "cvss_vector",
            "cvss_version",
            "cvss_score",
            "severity",
        ):
            batch_op.drop_column(name)
