"""correlation rules: rule names and types, and the base-rule matches of correlation windows

Revision ID: 0010
Revises: 0007
Create Date: 2026-12-04 22:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
import yaml
from alembic import op

import hostwatch.db.base

revision = "0010"
down_revision = "0007"
branch_labels = None
depends_on = None

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def upgrade() -> None:
    with op.batch_alter_table("detection_rules", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("correlation_type", sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f("ix_detection_rules_name"), ["name"], unique=False)
    _fill_names()

    op.create_table(
        "correlation_matches",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("correlation_id", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=36), nullable=False),
        sa.Column("group_key", sa.String(length=512), nullable=False),
        sa.Column("rule_id", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("time", hostwatch.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("value", sa.String(length=1024), nullable=True),
        sa.ForeignKeyConstraint(
            ["correlation_id"],
            ["detection_rules.id"],
            name=op.f("fk_correlation_matches_correlation_id_detection_rules"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_correlation_matches_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_correlation_matches_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_correlation_matches")),
        sa.UniqueConstraint(
            "event_id",
            "correlation_id",
            "rule_id",
            name=op.f("uq_correlation_matches_event_id"),
        ),
    )
    with op.batch_alter_table("correlation_matches", schema=None) as batch_op:
        batch_op.create_index(
            "ix_correlation_matches_window",
            ["correlation_id", "device_id", "group_key", "time"],
            unique=False,
        )


def _fill_names() -> None:
    """Names of rules stored before this revision, read from their stored YAML."""
    connection = op.get_bind()
    rules = sa.table("detection_rules", sa.column("id"), sa.column("name"), sa.column("text"))
    for rule_id, text in connection.execute(sa.select(rules.c.id, rules.c.text)).all():
        try:
            documents = list(yaml.load_all(text, Loader=_Loader))
        except yaml.YAMLError:
            continue
        for document in documents:
            if isinstance(document, dict) and str(document.get("id")) == rule_id:
                name = document.get("name")
                if isinstance(name, str) and name:
                    connection.execute(
                        sa.update(rules).where(rules.c.id == rule_id).values(name=name[:255])
                    )
                break


def downgrade() -> None:
    with op.batch_alter_table("correlation_matches", schema=None) as batch_op:
        batch_op.drop_index("ix_correlation_matches_window")
    op.drop_table("correlation_matches")
    with op.batch_alter_table("detection_rules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_detection_rules_name"))
        batch_op.drop_column("correlation_type")
        batch_op.drop_column("name")
