"""The isolation table as nftables JSON, in the form `nft -j list table` gives it back, and
the cgroup rules that nft 1.0.6 takes only in its own syntax (see hostwatch.agent.isolation)."""

from __future__ import annotations

import contextlib
import ipaddress
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

FAMILY = "inet"
TABLE = "hostwatch_isolation"
PRIORITY = -180
# One bit of the conntrack mark says "this flow is allowed under isolation"; other bits of the
# mark are kept. Limitation: a program that overwrites the whole ct mark clears the bit, and the
# replies of that flow are then dropped.
CT_MARK_BIT = 0x00100000
CGROUP_CHAIN = "allow_cgroups"
CGROUP_FS = Path("/sys/fs/cgroup")  # where nft looks up a cgroupv2 path
_ND_TYPES = ["nd-router-solicit", "nd-router-advert", "nd-neighbor-solicit", "nd-neighbor-advert"]


# Building blocks of nftables JSON, in the form `nft -j list` gives them back.


def _match(left: dict[str, Any], right: Any, op: str = "==") -> dict[str, Any]:
    return {"match": {"op": op, "left": left, "right": right}}


def _payload(proto: str, field: str) -> dict[str, Any]:
    return {"payload": {"protocol": proto, "field": field}}


def _ct(key: str) -> dict[str, Any]:
    return {"ct": {"key": key}}


def _meta(key: str) -> dict[str, Any]:
    return {"meta": {"key": key}}


def _ip(address: str) -> str:
    return "ip" if ipaddress.ip_address(address).version == 4 else "ip6"


ACCEPT: dict[str, Any] = {"accept": None}
SET_MARK: dict[str, Any] = {
    "mangle": {"key": _ct("mark"), "value": {"|": [_ct("mark"), CT_MARK_BIT]}}
}
MARKED = _match({"&": [_ct("mark"), CT_MARK_BIT]}, CT_MARK_BIT)
ESTABLISHED = _match(_ct("state"), "established", "in")
ESTABLISHED_RELATED = _match(_ct("state"), ["established", "related"], "in")


def build_ruleset(
    server: Sequence[tuple[str, int]],
    dns: Sequence[str] = (),
    uids: Sequence[int] = (),
    with_cgroups: bool = False,
) -> list[dict[str, Any]]:
    """The table's chains and rules as `nft -j list table` shows them (no handles)."""
    base = {"family": FAMILY, "table": TABLE}
    inbound: list[list[dict[str, Any]]] = [[_match(_meta("iif"), "lo"), ACCEPT]]
    outbound: list[list[dict[str, Any]]] = [[_match(_meta("oif"), "lo"), ACCEPT]]
    for address, port in server:
        ip = _ip(address)
        # Limitation: a server connection conntrack did not track before isolation (no ct rule
        # anywhere on the host) is picked up mid-stream; a reply arriving first is then "new"
        # and dropped until the agent sends again, which its next request does.
        inbound.append(
            [
                _match(_payload(ip, "saddr"), address),
                _match(_payload("tcp", "sport"), port),
                ESTABLISHED,
                ACCEPT,
            ]
        )
        outbound.append(
            [
                _match(_payload(ip, "daddr"), address),
                _match(_payload("tcp", "dport"), port),
                SET_MARK,
                ACCEPT,
            ]
        )
    for address in dns:
        ip = _ip(address)
        for proto in ("udp", "tcp"):
            inbound.append(
                [
                    _match(_payload(ip, "saddr"), address),
                    _match(_payload(proto, "sport"), 53),
                    ESTABLISHED,
                    ACCEPT,
                ]
            )
            outbound.append(
                [
                    _match(_payload(ip, "daddr"), address),
                    _match(_payload(proto, "dport"), 53),
                    ACCEPT,
                ]
            )
    # DHCP and DHCPv6. Out only to the link's broadcast and DHCPv6 servers' multicast group:
    # to any address, source port 68 to port 67 was a UDP channel to anywhere for a root
    # process. A v4 lease is then renewed by broadcast at its rebinding time (T2) rather
    # than by unicast at T1.
    # Limitation: replies come from a server the agent does not know, to a port only root
    # may bind, so anyone may still send to ports 68 and 546 from 67 and 547.
    for ip, client, server_port, to in (
        ("ip", 68, 67, "255.255.255.255"),
        ("ip6", 546, 547, "ff02::1:2"),
    ):
        inbound.append(
            [
                _match(_payload("udp", "sport"), server_port),
                _match(_payload("udp", "dport"), client),
                ACCEPT,
            ]
        )
        outbound.append(
            [
                _match(_payload(ip, "daddr"), to),
                _match(_payload("udp", "sport"), client),
                _match(_payload("udp", "dport"), server_port),
                ACCEPT,
            ]
        )
    neighbour = [
        _match(_payload("icmpv6", "type"), {"set": _ND_TYPES}),
        _match(_payload("ip6", "hoplimit"), 255),
        ACCEPT,
    ]
    inbound.append(neighbour)
    outbound.append(neighbour)
    inbound.append([MARKED, ESTABLISHED_RELATED, ACCEPT])
    for uid in uids:
        outbound.append([_match(_meta("skuid"), uid), SET_MARK, ACCEPT])
    if with_cgroups:
        outbound.append([{"jump": {"target": CGROUP_CHAIN}}])

    def chain(name: str, hook: str | None) -> dict[str, Any]:
        found: dict[str, Any] = {**base, "name": name}
        if hook:
            found.update(type="filter", hook=hook, prio=PRIORITY, policy="drop")
        return {"chain": found}

    items = [chain("input", "input"), chain("output", "output"), chain("forward", "forward")]
    if with_cgroups:
        items.append(chain(CGROUP_CHAIN, None))
    items += [{"rule": {**base, "chain": "input", "expr": rule}} for rule in inbound]
    items += [{"rule": {**base, "chain": "output", "expr": rule}} for rule in outbound]
    return items


def cgroup_rules(cgroups: Sequence[dict[str, Any]]) -> str:
    """The cgroup rules in nft's own syntax (see the module docstring for why not JSON)."""
    lines = [
        f"add rule {FAMILY} {TABLE} {CGROUP_CHAIN} socket cgroupv2 level {c['level']} "
        f'"{c["nft_path"]}" ct mark set ct mark | {CT_MARK_BIT:#010x} accept'
        for c in cgroups
    ]
    return "\n".join(lines) + "\n"


def expected_cgroup_rule(cgroup: dict[str, Any]) -> dict[str, Any]:
    return {
        "rule": {
            "family": FAMILY,
            "table": TABLE,
            "chain": CGROUP_CHAIN,
            "expr": [_match({"socket": {"key": "cgroupv2"}}, str(cgroup["id"])), SET_MARK, ACCEPT],
        }
    }


def canonical_listing(listing: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The listing with each cgroupv2 path turned into its id (nft shows either)."""
    found = []
    for item in listing:
        expr = item.get("rule", {}).get("expr", [])
        head = expr[0].get("match", {}) if expr else {}
        if head.get("left") == {"socket": {"key": "cgroupv2"}}:
            right = str(head.get("right"))
            if not right.isdigit():
                with contextlib.suppress(OSError):
                    right = str(os.stat(CGROUP_FS / right).st_ino)
            head = {**head, "right": right}
            item = {"rule": {**item["rule"], "expr": [{"match": head}, *expr[1:]]}}
        found.append(item)
    return found
