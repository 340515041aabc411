"""The `hostwatch` command and its subcommands."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Protocol

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from hostwatch.auth import audit, service
from hostwatch.auth.roles import Role
from hostwatch.config import Settings, SettingsError
from hostwatch.db import migrate
from hostwatch.db.engine import make_engine, make_session_factory, transaction
from hostwatch.errors import HostwatchError

app = typer.Typer(help="Hostwatch: a self-hosted endpoint security portal.", no_args_is_help=True)
users_app = typer.Typer(help="Manage users and their roles.", no_args_is_help=True)
tokens_app = typer.Typer(help="API tokens for automation.", no_args_is_help=True)
enroll_app = typer.Typer(help="Agent enrollment tokens.", no_args_is_help=True)
db_app = typer.Typer(help="The database schema.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")
app.add_typer(enroll_app, name="enroll-token")
app.add_typer(db_app, name="db")

console = Console(stderr=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for machines.")]
NoRematchOpt = Annotated[
    bool,
    typer.Option("--no-rematch", help="Do not re-match devices after the feed change."),
]


@app.callback()
def _setup() -> None:
    level = os.environ.get("HOSTWATCH_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(
        level=getattr(logging, level, logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # One line per request from the HTTP client library is noise, not an event.
    logging.getLogger("httpx").setLevel(logging.WARNING)


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc


def _sessions(settings: Settings) -> Any:
    """The database, migrated; a database that cannot be opened is a one-line error."""
    try:
        engine = make_engine(settings.resolved_database_url)
        migrate.upgrade(engine)
    except (SQLAlchemyError, OSError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        # The URL may carry a password; it is never printed.
        reason = reason.replace(settings.resolved_database_url, "<HOSTWATCH_DATABASE_URL>")
        console.print(f"[red]error:[/] cannot open the database: {escape(reason)}")
        console.print("hint: check HOSTWATCH_DATABASE_URL and HOSTWATCH_DATA_DIR")
        raise typer.Exit(1) from exc
    return make_session_factory(engine)


def _fail(exc: HostwatchError) -> typer.Exit:
    console.print(f"[red]error ({exc.code}):[/] {exc.detail}")
    if exc.hint:
        console.print(f"hint: {exc.hint}")
    return typer.Exit(1)


def _read_password(stdin: bool) -> str:
    if stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


def _cli_audit(session: Session, action: str, target: str, detail: dict[str, Any] | None = None):
    actor = os.environ.get("SUDO_USER") or os.environ.get("USER") or "cli"
    audit.record(
        session,
        actor=f"cli:{actor}",
        actor_kind="system",
        action=action,
        target=target,
        detail=detail,
    )


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
) -> None:
    """Run the server (the API and the web app)."""
    import uvicorn

    from hostwatch.api.app import create_app

    settings = _settings()
    engine = make_engine(settings.resolved_database_url)
    migrate.upgrade(engine)
    web = create_app(settings, engine)
    uvicorn.run(
        web,
        host=host or settings.host,
        port=port or settings.port,
        log_level="info",
        access_log=False,
        proxy_headers=False,
    )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Bring the database schema to the newest version."""
    settings = _settings()
    engine = make_engine(settings.resolved_database_url)
    migrate.upgrade(engine)
    console.print(f"schema at revision {migrate.current(engine)}")


@users_app.command("create")
def users_create(
    name: str,
    role: Annotated[str, typer.Option(help="viewer, analyst, responder or admin")] = "viewer",
    password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
) -> None:
    """Create a user."""
    sessions = _sessions(_settings())
    password = _read_password(password_stdin)
    try:
        with transaction(sessions) as session:
            user = service.create_user(session, name, service.parse_role(role), password)
            _cli_audit(session, "user.create", user.name, {"role": user.role})
    except HostwatchError as exc:
        raise _fail(exc) from exc
    console.print(f"created user {name} with role {role}")


@users_app.command("list")
def users_list(as_json: JsonOpt = False) -> None:
    """List users."""
    sessions = _sessions(_settings())
    with transaction(sessions, write=False) as session:
        rows: list[dict[str, Any]] = [
            {
                "name": u.name,
                "role": u.role,
                "disabled": u.disabled,
                "created_at": u.created_at.isoformat(),
            }
            for u in service.list_users(session)
        ]
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    table = Table("name", "role", "disabled", "created")
    for row in rows:
        table.add_row(row["name"], row["role"], str(row["disabled"]), row["created_at"])
    Console().print(table)


@users_app.command("set-role")
def users_set_role(name: str, role: str) -> None:
    """Change a user's role."""
    sessions = _sessions(_settings())
    try:
        with transaction(sessions) as session:
            user = service.get_user(session, name)
            new_role = service.parse_role(role)
            service.check_admin_remains(session, user, new_role, user.disabled)
            _cli_audit(session, "user.update", name, {"role": [user.role, new_role.value]})
            user.role = new_role.value
    except HostwatchError as exc:
        raise _fail(exc) from exc
    console.print(f"{name} is now {role}")


@users_app.command("reset-password")
def users_reset_password(
    name: str, password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False
) -> None:
    """Set a new password for a user; their open sessions end."""
    sessions = _sessions(_settings())
    password = _read_password(password_stdin)
    try:
        with transaction(sessions) as session:
            service.set_password(session, service.get_user(session, name), password)
            _cli_audit(session, "user.password", name)
    except HostwatchError as exc:
        raise _fail(exc) from exc
    console.print(f"password of {name} changed")


@users_app.command("disable")
def users_disable(name: str, enable: Annotated[bool, typer.Option("--enable")] = False) -> None:
    """Disable a user (or enable again with --enable)."""
    sessions = _sessions(_settings())
    try:
        with transaction(sessions) as session:
            user = service.get_user(session, name)
            service.check_admin_remains(session, user, Role(user.role), not enable)
            user.disabled = not enable
            _cli_audit(session, "user.update", name, {"disabled": not enable})
    except HostwatchError as exc:
        raise _fail(exc) from exc
    console.print(f"{name} is {'enabled' if enable else 'disabled'}")


@tokens_app.command("create")
def tokens_create(
    user: Annotated[str, typer.Option("--user", help="The user the token acts as.")],
    name: Annotated[str, typer.Option(help="What the token is for.")] = "cli",
    as_json: JsonOpt = False,
) -> None:
    """Create an API token; it is printed once."""
    sessions = _sessions(_settings())
    try:
        with transaction(sessions) as session:
            raw, token = service.create_api_token(session, service.get_user(session, user), name)
            _cli_audit(session, "token.create", f"{user}/{name}")
            token_id = token.id
    except HostwatchError as exc:
        raise _fail(exc) from exc
    if as_json:
        print(json.dumps({"id": token_id, "user": user, "name": name, "token": raw}))
    else:
        print(raw)


@tokens_app.command("list")
def tokens_list(
    user: Annotated[str | None, typer.Option("--user", help="Only this user's tokens.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List API tokens (never the tokens themselves)."""
    sessions = _sessions(_settings())
    try:
        with transaction(sessions, write=False) as session:
            owner = service.get_user(session, user) if user else None
            names = {u.id: u.name for u in service.list_users(session)}
            rows = [
                {
                    "id": t.id,
                    "user": names.get(t.user_id, "?"),
                    "name": t.name,
                    "prefix": t.prefix,
                    "created_at": t.created_at.isoformat(),
                    "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
                    "revoked": t.revoked_at is not None,
                }
                for t in service.list_api_tokens(session, owner)
            ]
    except HostwatchError as exc:
        raise _fail(exc) from exc
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    table = Table("id", "user", "name", "prefix", "created", "last used", "revoked")
    for row in rows:
        table.add_row(*(str(row[k] or "") for k in row))
    Console().print(table)


@tokens_app.command("revoke")
def tokens_revoke(token_id: str) -> None:
    """Revoke an API token by id."""
    sessions = _sessions(_settings())
    try:
        with transaction(sessions) as session:
            service.revoke_api_token(session, token_id)
            _cli_audit(session, "token.revoke", token_id)
    except HostwatchError as exc:
        raise _fail(exc) from exc
    console.print(f"token {token_id} revoked")


@enroll_app.command("create")
def enroll_token_create(
    valid_hours: Annotated[int, typer.Option(help="Hours until it expires (0: never).")] = 168,
    max_uses: Annotated[int | None, typer.Option(help="How many agents may use it.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an agent enrollment token; it is printed once."""
    from hostwatch.devices import enrollment

    sessions = _sessions(_settings())
    try:
        with transaction(sessions) as session:
            raw, token = enrollment.create_enroll_token(
                session,
                "cli",
                valid_for=timedelta(hours=valid_hours) if valid_hours else None,
                max_uses=max_uses,
            )
            _cli_audit(session, "enroll_token.create", token.id)
            expires = token.expires_at.isoformat() if token.expires_at else None
    except HostwatchError as exc:
        raise _fail(exc) from exc
    if as_json:
        print(json.dumps({"id": token.id, "token": raw, "expires_at": expires}))
    else:
        print(raw)


@app.command()
def agent(
    server: Annotated[str, typer.Option(help="The server's URL, e.g. http://127.0.0.1:8765")],
    enroll_token: Annotated[
        str | None,
        typer.Option(envvar="HOSTWATCH_ENROLL_TOKEN", help="Needed for the first start only."),
    ] = None,
    data_dir: Annotated[Path, typer.Option(help="Where the agent keeps its state.")] = Path(
        "var/agent"
    ),
    heartbeat_interval: Annotated[
        float | None, typer.Option(help="Seconds between heartbeats (default: the server's).")
    ] = None,
) -> None:
    """Run the endpoint agent on this machine.

    `hostwatch agent release-isolation [--data-dir D]` releases an isolated device by hand,
    without the server.
    """
    # `hostwatch agent` itself is routed to hostwatch.agent.main before this module loads
    # (see hostwatch.__main__); this command serves `--help` and callers of `app`.
    from hostwatch.agent.main import run

    raise typer.Exit(run(server, enroll_token, data_dir, heartbeat_interval))


@app.command()
def up(
    port: Annotated[int | None, typer.Option(help="Port for the server.")] = None,
) -> None:
    """The main job: server and agent on this machine, on the embedded database."""
    from hostwatch.launcher import run_stack

    raise typer.Exit(run_stack(_settings(), port))


import_app = typer.Typer(help="Import logs from other sources.", no_args_is_help=True)
app.add_typer(import_app, name="import")


class _FileProgress(Protocol):
    @property
    def files_total(self) -> int: ...
    @property
    def files_done(self) -> int: ...
    @property
    def records(self) -> int: ...


@contextmanager
def _import_progress(as_json: bool, unit: str) -> Iterator[Callable[[_FileProgress], None]]:
    """A Rich bar of files done with the records read and their rate, for every long import;
    yields the callback an importer reports its progress to. Hidden for --json and pipes."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    bar = Progress(
        TextColumn("importing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(
            f"files  {{task.fields[records]:,}} records  {{task.fields[rate]:,.0f}} {unit}/s"
        ),
        console=console,
        disable=as_json or not console.is_terminal,
    )
    task = bar.add_task("import", total=None, records=0, rate=0.0)

    def show(progress: _FileProgress) -> None:
        elapsed = bar.tasks[task].elapsed or 0.0
        bar.update(
            task,
            total=progress.files_total,
            completed=progress.files_done,
            records=progress.records,
            rate=progress.records / elapsed if elapsed > 0 else 0.0,
        )

    with bar:
        yield show


def _finish_import(summary: Any, as_json: bool, render: Callable[[Any, Console], None]) -> None:
    if as_json:
        print(json.dumps(summary.to_dict(), indent=2))
    else:
        render(summary, Console())
    raise typer.Exit(summary.exit_code)


@import_app.command("evtx")
def import_evtx(
    paths: Annotated[
        list[Path], typer.Argument(help="EVTX files, folders (searched recursively), zip archives.")
    ],
    as_json: JsonOpt = False,
) -> None:
    """Import Windows event logs; each record becomes an event of the computer it names.

    Exit status: 0 all imported, 3 partly (problems are listed), 1 nothing imported.
    """
    from hostwatch.ingest.importer import EvtxImporter
    from hostwatch.ingest.summary import render

    sessions = _sessions(_settings())
    with _import_progress(as_json, "events") as show:
        summary = EvtxImporter(sessions, on_progress=show).run(paths)
    _finish_import(summary, as_json, render)


@import_app.command("osquery")
def import_osquery(
    paths: Annotated[
        list[Path],
        typer.Argument(help="osqueryd results logs (JSON lines, plain or gzip), folders."),
    ],
    query: Annotated[
        list[str] | None,
        typer.Option(
            "--query",
            metavar="GLOB=TABLE",
            help="Map query names matching GLOB to an inventory table, e.g. "
            "'pack_it_sw*=programs'. Names ending in a table's name and results with a "
            "table's columns are recognized without it.",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Import osquery results: software, OS facts, hotfixes and logged-on users of each host.

    Reads programs, deb_packages, rpm_packages, python_packages, npm_packages, os_version,
    patches and logged_in_users results, in snapshot, batch or event format.
    Exit status: 0 all imported, 3 partly (problems are listed), 1 nothing imported.
    """
    from hostwatch.ingest.osquery import OsqueryImporter
    from hostwatch.ingest.osquery_log import QueryMap
    from hostwatch.ingest.osquery_summary import render

    try:
        queries = QueryMap.parse(query or [])
    except ValueError as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from exc
    sessions = _sessions(_settings())
    with _import_progress(as_json, "lines") as show:
        summary = OsqueryImporter(sessions, queries, on_progress=show).run(paths)
    _finish_import(summary, as_json, render)


feeds_app = typer.Typer(
    help="Vulnerability feeds: OSV, NVD, CISA KEV, Debian, Microsoft's security updates.",
    no_args_is_help=True,
)
app.add_typer(feeds_app, name="feeds")


@feeds_app.command("import")
def feeds_import(
    paths: Annotated[
        list[Path],
        typer.Argument(help="Feed files (JSON, YAML, gzip), folders (searched), zip archives."),
    ],
    as_json: JsonOpt = False,
    no_rematch: NoRematchOpt = False,
) -> None:
    """Import OSV advisories, NVD CVE records, the KEV catalog and Debian DSA/DLA lists,
    then re-match the devices the changed advisories concern.

    Exit status: 0 all imported, 3 partly (problems are listed), 1 nothing imported.
    """
    from hostwatch.vulns.importer import FeedImporter, render
    from hostwatch.vulns.rematch import rematch

    sessions = _sessions(_settings())
    with _import_progress(as_json, "records") as show:
        summary = FeedImporter(sessions, on_progress=show).run(paths)
    if not no_rematch:
        summary.rematch = rematch(sessions, summary.written)
    _finish_import(summary, as_json, render)


@feeds_app.command("update")
def feeds_update(
    source: Annotated[
        list[str] | None,
        typer.Option(
            "--source",
            help="Only this feed: osv, nvd, kev, debian, msrc, or one location such as "
            "osv:PyPI or debian:DSA (repeatable). Default: all.",
        ),
    ] = None,
    as_json: JsonOpt = False,
    no_rematch: NoRematchOpt = False,
) -> None:
    """Fetch the feeds from their official locations (settings HOSTWATCH_FEEDS_*), import
    what changed, then re-match the devices the changed advisories concern.

    Exit status: 0 every source updated or unchanged, 3 partly (failed sources and problems
    are listed), 1 every source failed.
    """
    from hostwatch.vulns.rematch import rematch
    from hostwatch.vulns.update import FeedUpdater, UnknownSource, plan, render

    settings = _settings()
    try:
        sources = plan(settings, source or [])
    except UnknownSource as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from exc
    sessions = _sessions(settings)
    with _import_progress(as_json, "records") as show:
        summary = FeedUpdater(settings, sessions, on_progress=show).run(sources)
    if not no_rematch:
        summary.feeds.rematch = rematch(sessions, summary.feeds.written)
    _finish_import(summary, as_json, render)


from hostwatch.detection.commands import rules_app  # noqa: E402

app.add_typer(rules_app, name="rules")


def main() -> None:
    app()
