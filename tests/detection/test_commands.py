"""`hostwatch rules ...` against a real database: import with its report, switches, detect."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.shared import shared_data

RULE_ID = "7c3a5b1d-9e2f-4a8c-b5d7-1e0f3c6a9b2d"
RULE = (
    "rules-emerging-threats/2026/Exploits/CVE-2026-33829/"
    "proc_creation_win_exploit_cve_2026_33829.yml"
)
EVTX = (
    "regression_data/rules-emerging-threats/2026/Exploits/CVE-2026-33829/"
    "proc_creation_win_exploit_cve_2026_33829/7c3a5b1d-9e2f-4a8c-b5d7-1e0f3c6a9b2d.evtx"
)


def test_rules_import_reports_loaded_and_rejected_with_file_id_and_reason(
    hostwatch: Any, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "title: no detection\nid: 11111111-2222-3333-4444-555555555555\n"
        "logsource: {product: windows}\n"
    )

    result = hostwatch("rules", "import", str(shared_data("sigma", RULE)), str(broken), "--json")

    assert result.exit_code == 3
    report = json.loads(result.stdout)
    assert (report["loaded"], report["added"], report["rejected_count"]) == (1, 1, 1)
    [rejected] = report["rejected"]
    assert rejected["file"] == str(broken)
    assert rejected["rule_id"] == "11111111-2222-3333-4444-555555555555"
    assert "detection" in rejected["reason"].lower()


def test_rules_import_twice_reports_unchanged(hostwatch: Any) -> None:
    hostwatch("rules", "import", str(shared_data("sigma", RULE)))

    again = hostwatch("rules", "import", str(shared_data("sigma", RULE)), "--json")

    assert again.exit_code == 0
    assert (json.loads(again.stdout)["added"], json.loads(again.stdout)["unchanged"]) == (0, 1)


def test_rules_disable_enable_and_unknown_ids(hostwatch: Any) -> None:
    hostwatch("rules", "import", str(shared_data("sigma", RULE)))

    off = hostwatch("rules", "disable", RULE_ID, "--json")
    listed = json.loads(hostwatch("rules", "list", "--disabled", "--json").stdout)
    unknown = hostwatch("rules", "enable", "no-such-rule")

    assert json.loads(off.stdout) == {"changed": [RULE_ID], "enabled": False}
    assert [r["id"] for r in listed] == [RULE_ID]
    assert unknown.exit_code == 1
    assert "no-such-rule" in unknown.output


def test_rules_detect_raises_alerts_for_events_imported_earlier_once(hostwatch: Any) -> None:
    # Events stored before the rule existed: the import could raise nothing for them.
    imported = hostwatch("import", "evtx", "--json", str(shared_data("sigma", EVTX)))
    assert imported.exit_code == 0
    assert json.loads(imported.stdout)["alerts_raised"] == 0
    hostwatch("rules", "import", str(shared_data("sigma", RULE)))

    first = json.loads(hostwatch("rules", "detect", "--json").stdout)
    second = json.loads(hostwatch("rules", "detect", "--json").stdout)

    assert first["matches"] == 2
    assert first["alerts_created"] >= 1
    assert second["matches"] == 2
    assert (second["alerts_created"], second["alerts_updated"]) == (0, 0)


def test_rules_exclude_needs_a_device_or_tag(hostwatch: Any) -> None:
    hostwatch("rules", "import", str(shared_data("sigma", RULE)))

    neither = hostwatch("rules", "exclude", RULE_ID, "--reason", "noise")
    tagged = hostwatch(
        "rules", "exclude", RULE_ID, "--reason", "lab", "--tag", "lab", "--hours", "2", "--json"
    )

    assert neither.exit_code == 1
    assert "either a device or a tag" in neither.output
    found = json.loads(tagged.stdout)
    assert (found["tag"], found["reason"]) == ("lab", "lab")
    assert found["expires_at"] is not None


def test_rules_import_takes_a_correlation_with_its_base_rules_and_refuses_unknown_ones(
    hostwatch: Any, tmp_path: Path
) -> None:
    together = Path(__file__).with_name("data") / "brute_force_local.yml"
    lonely = tmp_path / "lonely.yml"
    lonely.write_text(
        "title: spray\nid: 44444444-5555-4666-8777-888888888888\n"
        "correlation:\n  type: value_count\n  rules: [hw_not_imported]\n"
        "  group-by: [IpAddress]\n  timespan: 10m\n  condition: {gte: 5, field: TargetUserName}\n"
    )

    result = hostwatch("rules", "import", str(together), str(lonely), "--json")

    assert result.exit_code == 3
    report = json.loads(result.stdout)
    assert (report["files"], report["loaded"], report["added"]) == (2, 2, 2)
    assert report["rejected"] == [
        {
            "file": str(lonely),
            "rule_id": "44444444-5555-4666-8777-888888888888",
            "title": "spray",
            "reason": "refers to rule 'hw_not_imported', which is neither in this import nor "
            "stored (by id or name)",
        }
    ]
    listed = json.loads(hostwatch("rules", "list", "--json").stdout)
    assert sorted(row["title"] for row in listed) == [
        "Brute Force Against One Account",
        "Failed Local Or Network Logon",
    ]
