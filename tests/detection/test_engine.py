"""The rule index: an event meets only the rules its log and its text allow."""

from __future__ import annotations

from typing import Any

from hostwatch.detection.engine import Detector
from hostwatch.detection.rules import CompiledRule, LoadReport
from hostwatch.detection.view import sigma_view

SYSMON = "Microsoft-Windows-Sysmon/Operational"


def _view(channel: str, event_id: int, **data: Any) -> dict[str, Any]:
    return sigma_view(
        {"event_code": str(event_id), "fields": {"channel": channel, "EventData": data}}
    )


def test_event_meets_only_rules_of_its_channel_and_event_id(
    all_rules: tuple[list[CompiledRule], LoadReport], detector: Detector
) -> None:
    rules, _ = all_rules
    process_rules = sum(
        1
        for rule in rules
        if rule.info.category == "process_creation" and rule.info.product == "windows"
    )
    plain = _view(SYSMON, 1, Image=r"C:\Windows\System32\notepad.exe", CommandLine="notepad")
    network = _view(SYSMON, 3, Image=r"C:\Windows\System32\notepad.exe")

    indexed, ran = detector.considered(plain)
    indexed_network, _ = detector.considered(network)

    # Sysmon 1 gets the process_creation rules, plus the few Windows rules that name no
    # channel; a network event none of the process rules.
    assert process_rules <= indexed < process_rules + 30
    assert indexed_network < 100
    # The text prefilter leaves a small share of them to run for an ordinary process.
    assert len(ran) < indexed / 10


def test_prefilter_keeps_the_rules_the_text_calls_for(detector: Detector) -> None:
    view = _view(
        SYSMON,
        1,
        Image=r"C:\Windows\System32\rundll32.exe",
        CommandLine=r"rundll32.exe C:\Users\x\evil.sys,Entry",
        ParentImage=r"C:\Windows\explorer.exe",
    )

    _, ran = detector.considered(view)
    matched = detector.match_view(view)

    assert matched, "a rundll32 .sys load is a known-bad pattern"
    assert set(matched) <= set(ran)


def test_match_reports_event_indexes_and_each_rule_once(
    detector: Detector, events: list[dict[str, Any]]
) -> None:
    batch = events[:2000]

    found = detector.match(batch)

    assert found, "the shared attack samples raise matches"
    assert all(0 <= m.event_index < len(batch) for m in found)
    pairs = [(m.rule_id, m.event_index) for m in found]
    assert len(pairs) == len(set(pairs))
    assert all(m.rule_id in detector.rules for m in found)


def test_event_without_channel_meets_no_windows_rule(detector: Detector) -> None:
    view = sigma_view({"event_code": "1", "fields": {"EventData": {"Image": "x"}}})

    indexed, _ = detector.considered(view)

    assert indexed == 0


def test_channels_and_event_ids_no_rule_names_share_one_bucket(
    all_rules: tuple[list[CompiledRule], LoadReport],
) -> None:
    detector = Detector(all_rules[0])
    views = [_view(f"Made-Up-Channel-{n}/Operational", 60000 + n, Data="x") for n in range(50)]

    results = [detector.match_view(view) for view in views]

    assert results == [[]] * 50
    assert len(detector._buckets) == 1
