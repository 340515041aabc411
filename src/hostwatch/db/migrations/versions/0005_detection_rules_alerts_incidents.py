"""detection rules, alerts and incidents

Sigma rules with their YAML and switches, per-device and per-tag exclusions, alerts with
their matched events and entities, incidents, and each device's stored risk level.

Revision ID: 0005
Revises: 0004 (the chain is set when the parallel branches land)
Create Date: 2026-12-04 19:43:23.713373
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import hostwatch.db.base

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "detection_rules",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "tags",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "references",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("product", sa.String(length=64), nullable=True),
        sa.Column("category", sa.String(length=64), nullable=True),
        sa.Column("service", sa.String(length=64), nullable=True),
        sa.Column("file", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("text_sha256", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("imported_at", hostwatch.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", hostwatch.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_detection_rules")),
    )
    state = op.create_table(
        "detection_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rules_version", sa.Integer(), nullable=False),
        sa.Column("stamp", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_detection_state")),
    )
    op.bulk_insert(state, [{"id": 1, "rules_version": 0, "stamp": "initial"}])
    op.create_table(
        "incidents",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("first_activity", hostwatch.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_activity", hostwatch.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", hostwatch.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", hostwatch.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
    )
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.create_index("ix_incidents_status_last", ["status", "last_activity"], unique=False)

    op.create_table(
        "alerts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("device_id", sa.String(length=36), nullable=False),
        sa.Column("rule_id", sa.String(length=64), nullable=False),
        sa.Column("group_key", sa.String(length=512), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("classification", sa.String(length=32), nullable=True),
        sa.Column("determination", sa.String(length=48), nullable=True),
        sa.Column("assignee", sa.String(length=128), nullable=True),
        sa.Column(
            "tactics",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "techniques",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("user", sa.String(length=255), nullable=True),
        sa.Column("first_activity", hostwatch.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_activity", hostwatch.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.String(length=36), nullable=True),
        sa.Column("incident_reason", sa.Text(), nullable=True),
        sa.Column("created_at", hostwatch.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", hostwatch.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", hostwatch.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_alerts_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_alerts_incident_id_incidents"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_alerts_device_last", ["device_id", "last_activity", "id"], unique=False
        )
        batch_op.create_index(
            "ix_alerts_group", ["device_id", "rule_id", "group_key", "last_activity"], unique=False
        )
        batch_op.create_index("ix_alerts_incident", ["incident_id"], unique=False)
        batch_op.create_index("ix_alerts_last", ["last_activity", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_alerts_user"), ["user"], unique=False)

    op.create_table(
        "rule_exclusions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("rule_id", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=36), nullable=True),
        sa.Column("tag", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("expires_at", hostwatch.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", hostwatch.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(device_id IS NULL) <> (tag IS NULL)", name=op.f("ck_rule_exclusions_device_or_tag")
        ),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_rule_exclusions_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["detection_rules.id"],
            name=op.f("fk_rule_exclusions_rule_id_detection_rules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rule_exclusions")),
    )
    with op.batch_alter_table("rule_exclusions", schema=None) as batch_op:
        batch_op.create_index("ix_rule_exclusions_rule", ["rule_id"], unique=False)

    op.create_table(
        "alert_entities",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("alert_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=1024), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alerts.id"],
            name=op.f("fk_alert_entities_alert_id_alerts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_entities")),
        sa.UniqueConstraint("alert_id", "kind", "value", name=op.f("uq_alert_entities_alert_id")),
    )
    with op.batch_alter_table("alert_entities", schema=None) as batch_op:
        batch_op.create_index("ix_alert_entities_kind_value", ["kind", "value"], unique=False)

    op.create_table(
        "alert_events",
        sa.Column("alert_id", sa.String(length=36), nullable=False),
        sa.Column("event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alerts.id"],
            name=op.f("fk_alert_events_alert_id_alerts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_alert_events_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("alert_id", "event_id", name=op.f("pk_alert_events")),
    )
    with op.batch_alter_table("alert_events", schema=None) as batch_op:
        batch_op.create_index("ix_alert_events_event", ["event_id"], unique=False)

    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("risk_level", sa.String(length=8), server_default="none", nullable=False)
        )
        batch_op.create_index("ix_devices_risk_level", ["risk_level"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_index("ix_devices_risk_level")
        batch_op.drop_column("risk_level")

    with op.batch_alter_table("alert_events", schema=None) as batch_op:
        batch_op.drop_index("ix_alert_events_event")

    op.drop_table("alert_events")
    with op.batch_alter_table("alert_entities", schema=None) as batch_op:
        batch_op.drop_index("ix_alert_entities_kind_value")

    op.drop_table("alert_entities")
    with op.batch_alter_table("rule_exclusions", schema=None) as batch_op:
        batch_op.drop_index("ix_rule_exclusions_rule")

    op.drop_table("rule_exclusions")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alerts_user"))
        batch_op.drop_index("ix_alerts_last")
        batch_op.drop_index("ix_alerts_incident")
        batch_op.drop_index("ix_alerts_group")
        batch_op.drop_index("ix_alerts_device_last")

    op.drop_table("alerts")
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_index("ix_incidents_status_last")

    op.drop_table("incidents")
    op.drop_table("detection_state")
    op.drop_table("detection_rules")
