"""MITRE ATT&CK tactics and techniques named by a Sigma rule's `attack.*` tags."""

from __future__ import annotations

import re
from collections.abc import Iterable

# Tactic tags as Sigma writes them (older rules use underscores), by their ATT&CK names.
# `stealth` and `defense-impairment` are the two tactics ATT&CK v18 split Defense Evasion
# into; the shared rules use both, and older rules still say `defense-evasion`.
_TACTICS = {
    "reconnaissance": "Reconnaissance",
    "resource-development": "Resource Development",
    "initial-access": "Initial Access",
    "execution": "Execution",
    "persistence": "Persistence",
    "privilege-escalation": "Privilege Escalation",
    "defense-evasion": "Defense Evasion",
    "stealth": "Stealth",
    "defense-impairment": "Defense Impairment",
    "credential-access": "Credential Access",
    "discovery": "Discovery",
    "lateral-movement": "Lateral Movement",
    "collection": "Collection",
    "command-and-control": "Command and Control",
    "exfiltration": "Exfiltration",
    "impact": "Impact",
}
_TECHNIQUE = re.compile(r"t(\d{4})(?:\.(\d{3}))?")


def tactics_and_techniques(tags: Iterable[str]) -> tuple[list[str], list[str]]:
    """The tactic names and technique ids (T1059, T1059.001) in the tags, in tag order.

    Tags in other namespaces, and ATT&CK software (`attack.s0002`) and group
    (`attack.g0010`) tags, name neither and are left out.
    """
    tactics: list[str] = []
    techniques: list[str] = []
    for tag in tags:
        namespace, _, name = tag.lower().partition(".")
        if namespace != "attack" or not name:
            continue
        found = _TECHNIQUE.fullmatch(name)
        if found:
            technique = f"T{found[1]}" + (f".{found[2]}" if found[2] else "")
            if technique not in techniques:
                techniques.append(technique)
            continue
        tactic = _TACTICS.get(name.replace("_", "-"))
        if tactic and tactic not in tactics:
            tactics.append(tactic)
    return tactics, techniques
