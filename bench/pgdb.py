"""Scratch PostgreSQL databases for benchmarks: created fresh, dropped afterwards."""

from __future__ import annotations

import psycopg

PG_ADMIN = "host=127.0.0.1 port=5432 dbname=test user=postgres"


def pg_database(admin_dsn: str, name: str, create: bool) -> None:
    """Drop the database `name` if it exists; then create it empty when `create` is set."""
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            conn.execute(f'CREATE DATABASE "{name}"')
