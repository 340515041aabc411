"""Host facts and logged-on users, checked against the OS's own tools and files."""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import psutil

from hostwatch.agent.host import (
    collect_host_facts,
    collect_logged_on_users,
    joined_domain,
    qualified_fqdn,
)


def _os_release() -> dict[str, str]:
    fields = {}
    for line in Path("/etc/os-release").read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            name, _, value = line.partition("=")
            fields[name] = shlex.split(value)[0] if value else ""
    return fields


def test_collect_host_facts_hostname_matches_socket() -> None:
    facts = collect_host_facts()

    assert facts.hostname == socket.gethostname()


def test_collect_host_facts_os_matches_os_release() -> None:
    release = _os_release()

    facts = collect_host_facts()

    assert facts.os_family == "linux"
    assert facts.os_name == release["PRETTY_NAME"]
    assert facts.os_version == release["VERSION_ID"]


def test_collect_host_facts_machine_kernel_and_boot_time_match_the_system() -> None:
    machine_id = Path("/etc/machine-id").read_text().strip()

    facts = collect_host_facts()

    assert facts.machine_id == machine_id
    assert facts.os_kernel == os.uname().release
    assert facts.os_arch == os.uname().machine
    assert facts.boot_time == datetime.fromtimestamp(psutil.boot_time(), UTC)
    assert facts.cpu_count == os.cpu_count()
    assert facts.memory_bytes == psutil.virtual_memory().total


def test_collect_host_facts_addresses_match_ip_without_loopback() -> None:
    shown = json.loads(subprocess.run(["ip", "-j", "addr"], capture_output=True, check=True).stdout)
    expected_ips = {
        info["local"] for link in shown if link["ifname"] != "lo" for info in link["addr_info"]
    }
    expected_macs = {
        link["address"]
        for link in shown
        if link["ifname"] != "lo" and link.get("address") not in (None, "00:00:00:00:00:00")
    }

    facts = collect_host_facts()

    assert set(facts.ip_addresses) == expected_ips
    assert set(facts.mac_addresses) == expected_macs
    assert "127.0.0.1" not in facts.ip_addresses
    assert "::1" not in facts.ip_addresses


def test_collect_host_facts_never_takes_a_placeholder_fqdn() -> None:
    hostname, resolved = socket.gethostname(), socket.getfqdn()

    facts = collect_host_facts()

    assert facts.fqdn == qualified_fqdn(hostname, resolved)
    assert facts.fqdn not in {"localhost", "localhost.localdomain"}


def test_qualified_fqdn_accepts_only_this_hosts_qualified_name() -> None:
    assert qualified_fqdn("vm", "localhost") is None
    assert qualified_fqdn("vm", "vm") is None
    assert qualified_fqdn("vm", "vm.localdomain") is None
    assert qualified_fqdn("vm", "other.corp.example") is None
    assert qualified_fqdn("vm", "VM.Corp.Example.") == "vm.corp.example"
    assert qualified_fqdn("db1.corp.example", "localhost") == "db1.corp.example"


def test_joined_domain_reads_the_ad_domain_from_sssd(tmp_path: Path) -> None:
    (tmp_path / "etc/sssd").mkdir(parents=True)
    (tmp_path / "etc/sssd/sssd.conf").write_text(
        "[sssd]\ndomains = CORP.EXAMPLE\n\n"
        "[domain/CORP.EXAMPLE]\nid_provider = ad\nad_domain = corp.example\n"
    )

    assert joined_domain(tmp_path) == "corp.example"


def test_joined_domain_ignores_a_kerberos_realm_without_host_keytab(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/krb5.conf").write_text("[libdefaults]\n  default_realm = ATHENA.MIT.EDU\n")

    assert joined_domain(tmp_path) is None


def test_joined_domain_takes_the_kerberos_realm_with_host_keytab(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/krb5.conf").write_text(
        "[realms]\n  OTHER.ORG = {\n  }\n[libdefaults]\n  default_realm = CORP.EXAMPLE\n"
    )
    (tmp_path / "etc/krb5.keytab").write_bytes(b"\x05\x02")

    assert joined_domain(tmp_path) == "corp.example"


def test_collect_logged_on_users_equals_utmp_sessions() -> None:
    expected = [(u.name, u.terminal or None, u.host or None) for u in psutil.users() if u.name]

    users = collect_logged_on_users()

    assert [(u.name, u.terminal, u.host) for u in users] == expected
    assert all(u.source == "utmp" for u in users)
