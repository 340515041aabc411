"""`hostwatch rules ...`: import Sigma rules, switch them on and off, and tune them."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from hostwatch.db.base import utcnow
from hostwatch.db.engine import transaction
from hostwatch.detection import catalog
from hostwatch.detection.models import DetectionRule, RuleExclusion
from hostwatch.errors import HostwatchError

rules_app = typer.Typer(help="Sigma detection rules.", no_args_is_help=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for machines.")]
# Rejections listed in the human summary; --json lists them all.
_SHOWN_REJECTIONS = 50


def _exclusion_dict(exclusion: RuleExclusion) -> dict[str, Any]:
    return {
        "id": exclusion.id,
        "rule_id": exclusion.rule_id,
        "device_id": exclusion.device_id,
        "tag": exclusion.tag,
        "reason": exclusion.reason,
        "expires_at": exclusion.expires_at.isoformat() if exclusion.expires_at else None,
        "created_by": exclusion.created_by,
        "created_at": exclusion.created_at.isoformat(),
    }


@rules_app.command("import")
def rules_import(
    paths: Annotated[list[Path], typer.Argument(help="Sigma rule files or folders (searched).")],
    as_json: JsonOpt = False,
) -> None:
    """Load Sigma rules and store them; new rules are enabled.

    Every rule that cannot be used is listed with its file, id and reason. Exit status: 0
    all loaded, 3 some rejected, 1 none loaded.
    """
    from hostwatch import cli

    sessions = cli._sessions(cli._settings())
    with transaction(sessions) as session:
        result = catalog.import_paths(session, paths)
        cli._cli_audit(
            session,
            "rules.import",
            ", ".join(str(p) for p in paths)[:255],
            {
                "added": len(result.added),
                "updated": len(result.updated),
                "rejected": len(result.report.rejected),
            },
        )
    if as_json:
        print(json.dumps(result.to_dict(), indent=2))
        raise typer.Exit(result.exit_code)
    out = Console()
    report = result.report
    out.print(
        f"{report.files} files: {report.loaded} rules loaded ({len(result.added)} new, "
        f"{len(result.updated)} changed, {result.unchanged} unchanged), "
        f"{len(report.rejected)} rejected, in {report.seconds:.1f} s"
    )
    if report.rejected:
        table = Table("file", "rule id", "reason", title="rejected rules")
        for rejected in report.rejected[:_SHOWN_REJECTIONS]:
            table.add_row(
                escape(rejected.file), escape(rejected.rule_id or "-"), escape(rejected.reason)
            )
        out.print(table)
        if len(report.rejected) > _SHOWN_REJECTIONS:
            out.print(f"... and {len(report.rejected) - _SHOWN_REJECTIONS} more (see --json)")
    if report.notes:
        out.print(f"{len(report.notes)} rules are used for some logs only (see --json)")
    raise typer.Exit(result.exit_code)


@rules_app.command("detect")
def rules_detect(
    device: Annotated[
        list[str] | None, typer.Option(help="Only these device ids (repeat it).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run the enabled rules over events stored before the rules were imported.

    Events already alerted on by a rule are not alerted on again.
    """
    from hostwatch import cli
    from hostwatch.detection.service import Windows, detect_stored

    settings = cli._settings()
    sessions = cli._sessions(settings)
    results = detect_stored(sessions, device, windows=Windows.from_settings(settings))
    summary = {
        "devices": len(results),
        "events": sum(r.events for r in results.values()),
        "matches": sum(r.matches for r in results.values()),
        "excluded": sum(sum(r.excluded.values()) for r in results.values()),
        "alerts_created": sum(len(r.alerts_created) for r in results.values()),
        "alerts_updated": sum(len(r.alerts_updated) for r in results.values()),
    }
    if as_json:
        print(json.dumps(summary, indent=2))
        return
    cli.console.print(
        f"{summary['events']:,} events of {summary['devices']} devices: "
        f"{summary['matches']:,} matches, {summary['alerts_created']} alerts raised, "
        f"{summary['alerts_updated']} widened, {summary['excluded']} matches excluded"
    )


@rules_app.command("list")
def rules_list(
    disabled: Annotated[bool, typer.Option("--disabled", help="Only disabled rules.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """List the stored rules."""
    from sqlalchemy import select

    from hostwatch import cli

    sessions = cli._sessions(cli._settings())
    with transaction(sessions, write=False) as session:
        query = select(DetectionRule).order_by(DetectionRule.title)
        if disabled:
            query = query.where(DetectionRule.enabled.is_(False))
        rows = [
            {
                "id": r.id,
                "title": r.title,
                "level": r.level,
                "status": r.status,
                "enabled": r.enabled,
                "file": r.file,
            }
            for r in session.scalars(query)
        ]
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    table = Table("id", "title", "level", "enabled")
    for row in rows:
        table.add_row(
            str(row["id"]), escape(str(row["title"])), str(row["level"] or ""), str(row["enabled"])
        )
    Console().print(table)


def _switch(rule_ids: list[str], enabled: bool, as_json: bool) -> None:
    from hostwatch import cli

    sessions = cli._sessions(cli._settings())
    try:
        with transaction(sessions) as session:
            changed = catalog.set_enabled(session, rule_ids, enabled)
            action = "rule.enable" if enabled else "rule.disable"
            for rule_id in changed:
                cli._cli_audit(session, action, rule_id)
    except HostwatchError as exc:
        raise cli._fail(exc) from exc
    if as_json:
        print(json.dumps({"changed": changed, "enabled": enabled}))
        return
    word = "enabled" if enabled else "disabled"
    cli.console.print(f"{len(changed)} rules {word} ({len(rule_ids) - len(changed)} already were)")


@rules_app.command("enable")
def rules_enable(rule_ids: list[str], as_json: JsonOpt = False) -> None:
    """Enable rules by id."""
    _switch(rule_ids, True, as_json)


@rules_app.command("disable")
def rules_disable(rule_ids: list[str], as_json: JsonOpt = False) -> None:
    """Disable rules by id: they raise no alerts until enabled again."""
    _switch(rule_ids, False, as_json)


@rules_app.command("exclude")
def rules_exclude(
    rule_id: str,
    reason: Annotated[str, typer.Option(help="Why the rule does not apply there.")],
    device: Annotated[str | None, typer.Option(help="A device id.")] = None,
    tag: Annotated[str | None, typer.Option(help="Every device with this tag.")] = None,
    hours: Annotated[
        int | None, typer.Option(min=1, help="Expire after this many hours (default: never).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Keep a rule from raising alerts on one device, or on the devices with a tag."""
    from hostwatch import cli

    expires: datetime | None = utcnow() + timedelta(hours=hours) if hours else None
    sessions = cli._sessions(cli._settings())
    try:
        with transaction(sessions) as session:
            exclusion = catalog.add_exclusion(
                session,
                rule_id,
                device_id=device,
                tag=tag,
                reason=reason,
                expires_at=expires,
                created_by="cli",
            )
            found = _exclusion_dict(exclusion)
            cli._cli_audit(session, "rule.exclusion.add", rule_id, found)
    except HostwatchError as exc:
        raise cli._fail(exc) from exc
    if as_json:
        print(json.dumps(found))
        return
    cli.console.print(f"exclusion {found['id']} added to rule {rule_id}")


@rules_app.command("exclusions")
def rules_exclusions(
    rule_id: Annotated[str | None, typer.Option("--rule", help="Only this rule's.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List exclusions."""
    from hostwatch import cli

    sessions = cli._sessions(cli._settings())
    with transaction(sessions, write=False) as session:
        rows = [_exclusion_dict(e) for e in catalog.list_exclusions(session, rule_id)]
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    table = Table("id", "rule", "device", "tag", "expires", "reason")
    for row in rows:
        table.add_row(
            str(row["id"]),
            row["rule_id"],
            row["device_id"] or "",
            escape(row["tag"] or ""),
            row["expires_at"] or "never",
            escape(row["reason"]),
        )
    Console().print(table)


@rules_app.command("unexclude")
def rules_unexclude(exclusion_id: int) -> None:
    """Remove an exclusion by id."""
    from hostwatch import cli

    sessions = cli._sessions(cli._settings())
    try:
        with transaction(sessions) as session:
            exclusion = catalog.remove_exclusion(session, exclusion_id)
            cli._cli_audit(
                session, "rule.exclusion.remove", exclusion.rule_id, {"id": exclusion_id}
            )
    except HostwatchError as exc:
        raise cli._fail(exc) from exc
    cli.console.print(f"exclusion {exclusion_id} removed")
