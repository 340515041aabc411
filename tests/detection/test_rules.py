"""Rule loading: pipelines per log, every unusable rule reported with file, id and reason."""

from __future__ import annotations

from pathlib import Path

from hostwatch.detection.engine import Detector, Match
from hostwatch.detection.rules import CompiledRule, LoadReport, RuleLoader, load_rules
from tests.detection.rule_builder import rule_text

PROCESS_RULE = {
    "sel": {"Image|endswith": "\\certutil.exe", "CommandLine|contains": "-urlcache"},
    "condition": "sel",
}
PROCESS_SOURCE = {"category": "process_creation", "product": "windows"}


def _row(channel: str, event_id: int, provider: str, **data: object) -> dict[str, object]:
    """An event row as the normalizer writes it (hostwatch.ingest.normalize)."""
    return {
        "event_code": str(event_id),
        "fields": {"channel": channel, "provider": provider, "computer": "ws1", "EventData": data},
    }


def test_process_creation_rule_matches_sysmon_1_and_security_4688(tmp_path: Path) -> None:
    (tmp_path / "certutil.yml").write_text(rule_text(PROCESS_RULE, PROCESS_SOURCE))
    rules, report = load_rules([tmp_path])
    sysmon = _row(
        "Microsoft-Windows-Sysmon/Operational",
        1,
        "Microsoft-Windows-Sysmon",
        Image=r"C:\Windows\System32\certutil.exe",
        CommandLine="certutil -urlcache -f http://x/a a",
    )
    security = _row(
        "Security",
        4688,
        "Microsoft-Windows-Security-Auditing",
        NewProcessName=r"C:\Windows\System32\CertUtil.exe",
        CommandLine="certutil.exe -urlcache -split -f http://x/b",
    )
    # The same fields under the wrong event id or channel must not match.
    sysmon_network = _row(
        "Microsoft-Windows-Sysmon/Operational",
        3,
        "Microsoft-Windows-Sysmon",
        Image=r"C:\Windows\System32\certutil.exe",
        CommandLine="certutil -urlcache",
    )
    security_with_sysmon_names = _row(
        "Security",
        4688,
        "Microsoft-Windows-Security-Auditing",
        Image=r"C:\Windows\System32\certutil.exe",
        CommandLine="certutil -urlcache",
    )

    found = Detector(rules).match([sysmon, security, sysmon_network, security_with_sysmon_names])

    rule_id = rules[0].info.id
    assert report.loaded == 1 and report.rejected == []
    assert (rules[0].info.product, rules[0].info.category) == ("windows", "process_creation")
    assert [version.log for version in rules[0].versions] == ["sysmon", "security"]
    assert found == [Match(rule_id, 0, "sysmon"), Match(rule_id, 1, "security")]


def test_service_rule_gets_its_channel() -> None:
    loader = RuleLoader()
    loader.load_text(
        "svc.yml",
        rule_text(
            {"sel": {"EventID": 7045, "ImagePath|contains": "psexesvc"}, "condition": "sel"},
            {"product": "windows", "service": "system"},
        ),
    )
    detector = Detector(loader.rules)
    system = _row("System", 7045, "Service Control Manager", ImagePath=r"C:\PSEXESVC.exe")
    elsewhere = _row("Application", 7045, "Service Control Manager", ImagePath=r"C:\PSEXESVC.exe")

    assert [m.event_index for m in detector.match([system, elsewhere])] == [0]


def test_unusable_rules_are_reported_with_file_id_and_reason(tmp_path: Path) -> None:
    good = rule_text(PROCESS_RULE, PROCESS_SOURCE)
    (tmp_path / "a_good.yml").write_text(good)
    (tmp_path / "b_broken.yml").write_text("title: [unclosed\n")
    (tmp_path / "c_no_condition.yml").write_text(
        rule_text({"sel": {"A": "1"}, "condition": "missing_name"})
    )
    (tmp_path / "d_placeholder.yml").write_text(
        rule_text({"sel": {"User|expand": "%admins%"}, "condition": "sel"})
    )
    (tmp_path / "e_duplicate.yml").write_text(good)
    (tmp_path / "f_correlation.yml").write_text(
        "title: brute force\nid: 0b5d7a4e-3c1e-4b8e-9a57-3f0a6a4d2e11\nname: bf\n"
        "correlation:\n  type: event_count\n  rules: [x]\n  group-by: [User]\n"
        "  timespan: 5m\n  condition: {gte: 10}\n"
    )

    rules, report = load_rules([tmp_path])

    assert report.files == 6
    assert report.loaded == 1
    rejected = {Path(r.file).name: r for r in report.rejected}
    assert sorted(rejected) == [
        "b_broken.yml",
        "c_no_condition.yml",
        "d_placeholder.yml",
        "e_duplicate.yml",
        "f_correlation.yml",
    ]
    assert "not a valid Sigma rule file" in rejected["b_broken.yml"].reason
    assert rejected["c_no_condition.yml"].rule_id is not None
    assert "missing_name" in rejected["c_no_condition.yml"].reason
    assert "placeholder %admins%" in rejected["d_placeholder.yml"].reason
    assert rejected["e_duplicate.yml"].rule_id == rules[0].info.id
    assert "a_good.yml" in rejected["e_duplicate.yml"].reason
    assert rejected["f_correlation.yml"].rule_id == "0b5d7a4e-3c1e-4b8e-9a57-3f0a6a4d2e11"
    assert rejected["f_correlation.yml"].reason == (
        "refers to rule 'x', which is neither in this import nor stored (by id or name)"
    )
    assert report.seconds > 0


def test_missing_path_and_empty_folder_are_reported(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()

    _, report = load_rules([tmp_path / "nowhere", empty])

    assert [(Path(r.file).name, r.reason) for r in report.rejected] == [
        ("nowhere", "no such file or folder"),
        ("empty", "no .yml or .yaml rule files in this folder"),
    ]


def test_shared_rules_all_load(all_rules: tuple[list[CompiledRule], LoadReport]) -> None:
    rules, report = all_rules

    # Every shared rule compiles; 10 registry rules name fields that Security event 4657
    # lacks, so they run on Sysmon events only, and say so.
    assert report.rejected == []
    assert report.loaded == len(rules) == 2627
    assert len(report.notes) == 10
    assert all("Security event 4657" in note.reason for note in report.notes)


def test_rule_info_carries_alert_metadata(
    all_rules: tuple[list[CompiledRule], LoadReport],
) -> None:
    rules, _ = all_rules
    info = next(r.info for r in rules if r.info.id == "a1a144b7-5c9b-4853-a559-2172be8d4a03")

    assert info.level in ("low", "medium", "high", "critical", "informational")
    assert any(tag.startswith("attack.") for tag in info.tags)
    assert info.path.endswith(".yml")
    assert info.title
