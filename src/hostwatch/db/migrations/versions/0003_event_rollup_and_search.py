"""event rollup and search index

Counts of events per (device, kind, hour) for the timeline's chart, kept exact by
statement triggers on PostgreSQL and by an id mark and a deletion trigger on SQLite (see
hostwatch.events.histogram); an index of each event's search text, lowercased and joined:
in a b-tree in timeline order on SQLite, in a trigram index on PostgreSQL (pg_trgm).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 19:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# As hostwatch.events.models.search_text builds it; a query uses the index only if it
# repeats this expression exactly.
SEARCHED = (
    "process_command_line",
    "parent_process_command_line",
    "process_image",
    "parent_process_image",
    "target_file",
    "target_registry_key",
    "target_registry_value",
    "dns_name",
    '"user"',
)


def _search_text(separator: str) -> str:
    return "lower(" + f" || {separator} || ".join(f"coalesce({c}, '')" for c in SEARCHED) + ")"


# Hours since the epoch of a time. SQLite stores times as 'YYYY-MM-DD HH:MM:SS.ffffff' in
# UTC: the Julian day of its date less the epoch's, times 24, is a whole number but for
# rounding (before 1970 too); then the hour of the day. No colon: text() would read one as
# a parameter.
SQLITE_HOUR = (
    "CAST(round((julianday(substr({t}, 1, 10)) - 2440587.5) * 24) AS INTEGER)"
    " + CAST(substr({t}, 12, 2) AS INTEGER)"
)

SQLITE_DELETE_TRIGGER = f"""
CREATE TRIGGER events_rollup_delete AFTER DELETE ON events
BEGIN
    UPDATE event_hour_counts SET events = events - 1
    WHERE device_id = old.device_id AND kind = old.kind
      AND hour = {SQLITE_HOUR.format(t="old.time")}
      AND old.id <= (SELECT last_id FROM event_count_mark);
    -- New ids follow the largest id left: keep the mark at or below it, so that an event
    -- given a freed id is past the mark, not silently inside it.
    UPDATE event_count_mark SET last_id = (SELECT coalesce(max(id), 0) FROM events)
    WHERE last_id > (SELECT coalesce(max(id), 0) FROM events);
END
"""  # noqa: S608 - built from the constants above only

PG_HOUR = "floor(extract(epoch FROM time) / 3600)::bigint"
PG_FUNCTIONS = f"""
CREATE FUNCTION events_rollup_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- In key order, so that two writers lock the same rollup rows in the same order.
    INSERT INTO event_hour_counts (device_id, hour, kind, events)
    SELECT device_id, {PG_HOUR}, kind, count(*) FROM added_events
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (device_id, hour, kind)
    DO UPDATE SET events = event_hour_counts.events + excluded.events;
    RETURN NULL;
END $$;

CREATE FUNCTION events_rollup_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE event_hour_counts AS c SET events = c.events - gone.n
    FROM (
        SELECT device_id, {PG_HOUR} AS hour, kind, count(*) AS n FROM removed_events
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ) AS gone
    WHERE c.device_id = gone.device_id AND c.kind = gone.kind AND c.hour = gone.hour;
    RETURN NULL;
END $$;

CREATE TRIGGER events_rollup_insert AFTER INSERT ON events
REFERENCING NEW TABLE AS added_events
FOR EACH STATEMENT EXECUTE FUNCTION events_rollup_insert();

CREATE TRIGGER events_rollup_delete AFTER DELETE ON events
REFERENCING OLD TABLE AS removed_events
FOR EACH STATEMENT EXECUTE FUNCTION events_rollup_delete();
"""  # noqa: S608 - built from the constants above only


def upgrade() -> None:
    op.create_table(
        "event_hour_counts",
        sa.Column("device_id", sa.String(), nullable=False),
        sa.Column("hour", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["device_id"], ["devices.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("device_id", "hour", "kind"),
    )
    op.create_table(
        "event_count_mark",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )

    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(
            "CREATE INDEX ix_events_search_trgm ON events "
            f"USING gin ({_search_text('chr(31)')} gin_trgm_ops)"
        )
        # The triggers first: they lock events against writers until this commits, so the
        # backfill and the triggers between them count every event once.
        op.execute(PG_FUNCTIONS)
        op.execute(
            "INSERT INTO event_hour_counts (device_id, hour, kind, events) "  # noqa: S608
            f"SELECT device_id, {PG_HOUR}, kind, count(*) FROM events GROUP BY 1, 2, 3"
        )
    else:
        op.execute(
            "CREATE INDEX ix_events_search ON events "
            f"(device_id, time, id, kind, {_search_text('char(31)')})"
        )
        op.execute(
            "INSERT INTO event_hour_counts (device_id, hour, kind, events) "  # noqa: S608
            f"SELECT device_id, {SQLITE_HOUR.format(t='time')}, kind, count(*) FROM events "
            "GROUP BY 1, 2, 3"
        )
        op.execute(
            "INSERT INTO event_count_mark (id, last_id) SELECT 1, coalesce(max(id), 0) FROM events"
        )
        op.execute(SQLITE_DELETE_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER events_rollup_delete ON events")
        op.execute("DROP TRIGGER events_rollup_insert ON events")
        op.execute("DROP FUNCTION events_rollup_delete()")
        op.execute("DROP FUNCTION events_rollup_insert()")
        # pg_trgm stays: other objects of the database may use it.
        op.execute("DROP INDEX ix_events_search_trgm")
    else:
        op.execute("DROP TRIGGER events_rollup_delete")
        op.execute("DROP INDEX ix_events_search")
    op.drop_table("event_count_mark")
    op.drop_table("event_hour_counts")
