"""Known events from the shared logs, mapped onto the event record field by field."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from hostwatch.ingest.evtx import strip_nul
from hostwatch.ingest.normalize import normalize
from hostwatch.ingest.windows_values import Logon, Normalized, RecordError
from tests.ingest.conftest import raw_events, sample

ATTACK = "evtx_attack_samples"
MITRE = "evtx_to_mitre_attack"


def _raw(relative: str, record_id: int) -> dict[str, Any]:
    """The record with this EventRecordID, as the evtx library reads it."""
    for event in raw_events(sample(relative)):
        if event["System"]["EventRecordID"] == record_id:
            return event
    raise AssertionError(f"no record {record_id} in {relative}")


def _event(relative: str, record_id: int) -> Normalized:
    return normalize(_raw(relative, record_id))


def _columns(event: Normalized) -> dict[str, Any]:
    """The row's columns that have a value, without the dedupe key and fields."""
    skip = {"dedupe_key", "fields", "time"}
    return {k: v for k, v in event.row.items() if v is not None and k not in skip}


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_sysmon_process_creation_with_its_parent() -> None:
    event = _event(f"{ATTACK}/Credential Access/babyshark_mimikatz_powershell.evtx", 14)

    assert event.computer == "IEWIN7"
    assert event.time == _at("2019-04-18T16:56:24.893827")
    assert _columns(event) == {
        "source": "sysmon",
        "event_code": "1",
        "kind": "process",
        "action_type": "ProcessCreated",
        "user": "IEWIN7\\IEUser",
        "process_id": 3576,
        "process_image": "C:\\Windows\\System32\\whoami.exe",
        "process_command_line": '"C:\\Windows\\system32\\whoami.exe"  /user',
        "process_sha256": "599efd455aeeefe2044a9b597061f271595033f5d0df2c99dfdbca8394bbcec3",
        "process_guid": "365ABB72-AC38-5CB8-0000-0010365E0800",
        "parent_process_id": 1200,
        "parent_process_image": "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
        "parent_process_command_line": "Powershell",
        "parent_process_guid": "365ABB72-AC28-5CB8-0000-0010F3F70700",
    }
    fields = event.row["fields"]
    assert fields["channel"] == "Microsoft-Windows-Sysmon/Operational"
    assert fields["provider"] == "Microsoft-Windows-Sysmon"
    assert fields["event_record_id"] == 14
    assert fields["computer"] == "IEWIN7"
    assert fields["EventData"]["IntegrityLevel"] == "High"
    assert fields["EventData"]["RuleName"].startswith("technique_id=T1033")


def test_network_logon_with_its_type_and_source_address() -> None:
    event = _event(f"{ATTACK}/Discovery/dicovery_4661_net_group_domain_admins_target.evtx", 565599)

    assert event.computer == "WIN-77LTAPHIQ1R.example.corp"
    assert _columns(event) == {
        "source": "security",
        "event_code": "4624",
        "kind": "logon",
        "action_type": "LogonSuccess",
        "user": "EXAMPLE\\user01",
        "remote_address": "10.0.2.17",
        "remote_port": 49222,
    }
    assert event.row["fields"]["EventData"]["LogonType"] == 3
    assert event.logon == Logon(
        name="EXAMPLE\\user01",
        sid="S-1-5-21-1587066498-1489273250-1035260531-1106",
        logon_type=3,
        host="10.0.2.17",
        time=_at("2019-03-18T23:23:52.491923"),
    )


def test_failed_interactive_logon_names_the_process() -> None:
    event = _event(
        f"{ATTACK}/Credential Access/CA_4624_4625_LogonType2_LogonProc_chrome.evtx", 137222
    )

    assert _columns(event) == {
        "source": "security",
        "event_code": "4625",
        "kind": "logon",
        "action_type": "LogonFailed",
        "user": "MSEDGEWIN10\\IEUser",
        "process_id": 0x1358,
        "process_image": "C:\\Program Files (x86)\\Google\\Chrome\\Application\\chrome.exe",
    }
    assert event.logon is None
    assert event.row["fields"]["EventData"]["SubStatus"] == "0xc000006a"


def test_service_ticket_request_keeps_its_encryption_type() -> None:
    event = _event(
        f"{ATTACK}/Privilege Escalation/"
        "samaccount_spoofing_CVE-2021-42287_CVE-2021-42278_DC_securitylogs.evtx",
        2982083,
    )

    assert _columns(event) == {
        "source": "security",
        "event_code": "4769",
        "kind": "kerberos",
        "action_type": "KerberosServiceTicketRequested",
        "user": "lgrove@THREEBEESCO.COM",
        "remote_address": "172.16.66.19",
        "remote_port": 50612,
    }
    data = event.row["fields"]["EventData"]
    assert data["TicketEncryptionType"] == "0x12"
    assert data["ServiceName"] == "01566S-WIN16-IR$"
    assert data["IpAddress"] == "::ffff:172.16.66.19"


def test_process_creation_from_the_security_log() -> None:
    event = _event(f"{ATTACK}/Credential Access/tutto_malseclogon.evtx", 329914)

    assert _columns(event) == {
        "source": "security",
        "event_code": "4688",
        "kind": "process",
        "action_type": "ProcessCreated",
        "user": "MSEDGEWIN10\\IEUser",
        "process_id": 0x21A4,
        "process_image": (
            "\\Device\\Mup\\VBoxSvr\\Users\\bouss\\Downloads\\MalSeclogon-master\\x64\\Debug\\"
            "MalSeclogon.exe"
        ),
        "parent_process_id": 0x2480,
        "parent_process_image": "C:\\Windows\\System32\\cmd.exe",
    }


def test_service_install_from_the_system_log() -> None:
    event = _event(f"{ATTACK}/Lateral Movement/LM_Remote_Service02_7045.evtx", 4480)

    assert event.computer == "WIN-77LTAPHIQ1R.example.corp"
    assert _columns(event) == {
        "source": "system",
        "event_code": "7045",
        "kind": "service",
        "action_type": "ServiceInstalled",
        "target_file": "cmd.exe",
    }
    assert event.row["fields"]["EventData"] == {
        "ServiceName": "spoolfool",
        "ImagePath": "cmd.exe",
        "ServiceType": "user mode service",
        "StartType": "auto start",
        "AccountName": "LocalSystem",
    }
    assert event.row["fields"]["user_sid"] == "S-1-5-21-1587066498-1489273250-1035260531-1108"


def test_script_block_keeps_the_script_and_its_process() -> None:
    event = _event(f"{ATTACK}/Credential Access/Powershell_4104_MiniDumpWriteDump_Lsass.evtx", 971)

    assert _columns(event) == {
        "source": "powershell",
        "event_code": "4104",
        "kind": "script",
        "action_type": "ScriptBlock",
        "process_id": 7008,
    }
    data = event.row["fields"]["EventData"]
    assert data["ScriptBlockText"].startswith("function Memory($path)\r\n{")
    assert "MiniDumpWriteDump" in data["ScriptBlockText"]
    assert (data["MessageNumber"], data["MessageTotal"]) == (1, 1)


def test_classic_powershell_engine_start_gives_the_host_command_line() -> None:
    event = _event(
        f"{MITRE}/TA0007-Discovery/T1087-Account discovery/ID800 - SPN discovery (PowerShell).evtx",
        9445,
    )

    assert _columns(event) == {
        "source": "powershell",
        "event_code": "400",
        "kind": "script",
        "action_type": "EngineStarted",
        "process_command_line": "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
    }


def test_outbound_sysmon_connection_gives_the_device_its_address() -> None:
    event = _event(f"{ATTACK}/Command and Control/DE_sysmon-3-rdp-tun.evtx", 1940900)

    assert _columns(event) == {
        "source": "sysmon",
        "event_code": "3",
        "kind": "network",
        "action_type": "ConnectionInitiated",
        "user": "PC01\\IEUser",
        "process_id": 2312,
        "process_image": "C:\\Users\\IEUser\\Desktop\\plink.exe",
        "process_guid": "365ABB72-DFAD-5C67-0000-0010E0811500",
        "local_address": "10.0.2.17",
        "local_port": 49185,
        "remote_address": "10.0.2.18",
        "remote_port": 80,
        "dns_name": "PC02",
    }
    assert event.own_addresses == ["10.0.2.17"]


def test_registry_value_set_names_key_and_data() -> None:
    event = _event(
        f"{ATTACK}/AutomatedTestingTools/Malware/"
        "DE_timestomp_and_dll_sideloading_and_RunPersist.evtx",
        6593,
    )

    assert _columns(event) == {
        "source": "sysmon",
        "event_code": "13",
        "kind": "registry",
        "action_type": "RegistryValueSet",
        "process_id": 2992,
        "process_image": "C:\\Users\\IEUser\\AppData\\Roaming\\NvSmart.exe",
        "process_guid": "365ABB72-7C01-5CC4-0000-0010F9530C00",
        "target_registry_key": (
            "HKU\\S-1-5-21-3583694148-1414552638-2922671848-1000\\Software\\Microsoft\\Windows\\"
            "CurrentVersion\\Run\\360v"
        ),
        "target_registry_value": "C:\\Users\\IEUser\\AppData\\Roaming\\svchost.exe",
    }


def test_dns_query() -> None:
    event = _event(f"{ATTACK}/Privilege Escalation/Sysmon_UACME_64.evtx", 1084)

    assert _columns(event) == {
        "source": "sysmon",
        "event_code": "22",
        "kind": "dns",
        "action_type": "DnsQuery",
        "process_id": 2428,
        "process_image": "C:\\Windows\\System32\\svchost.exe",
        "process_guid": "23F38D93-ABAC-5F8E-3900-000000000C00",
        "dns_name": "wpad",
    }


def test_defender_detection_names_threat_file_and_user() -> None:
    event = _event(
        f"{ATTACK}/AutomatedTestingTools/WinDefender_Events_1117_1116_AtomicRedTeam.evtx", 37
    )

    assert _columns(event) == {
        "source": "defender",
        "event_code": "1116",
        "kind": "antivirus",
        "action_type": "MalwareDetected",
        "user": "MSEDGEWIN10\\IEUser",
        "process_image": "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
        "target_file": (
            "C:\\AtomicRedTeam\\atomic-red-team-master\\atomics\\T1056\\Get-Keystrokes.ps1"
        ),
    }
    assert event.row["fields"]["EventData"]["Threat Name"] == "Trojan:PowerShell/Powersploit.M"


def test_security_log_cleared_reads_user_data() -> None:
    event = _event(
        f"{ATTACK}/Credential Access/ACL_ForcePwd_SPNAdd_User_Computer_Accounts.evtx", 198238040
    )

    assert _columns(event) == {
        "source": "security",
        "event_code": "1102",
        "kind": "audit",
        "action_type": "AuditLogCleared",
        "user": "insecurebank\\bob",
    }
    assert event.row["fields"]["provider"] == "Microsoft-Windows-Eventlog"
    assert event.row["fields"]["UserData"]["LogFileCleared"]["SubjectLogonId"] == "0x8d7099"


def test_share_file_access_from_a_remote_address() -> None:
    event = _event(
        f"{ATTACK}/Credential Access/CA_protectedstorage_5145_rpc_masterkey.evtx", 886983
    )

    assert _columns(event) == {
        "source": "security",
        "event_code": "5145",
        "kind": "share",
        "action_type": "ShareObjectChecked",
        "user": "3B\\backdoor",
        "target_file": "protected_storage",
        "remote_address": "172.16.66.1",
        "remote_port": 52415,
    }
    assert event.row["fields"]["EventData"]["ShareName"] == "\\\\*\\IPC$"


def test_scheduled_task_creation() -> None:
    event = _event(f"{ATTACK}/Execution/temp_scheduled_task_4698_4699.evtx", 566836)

    assert _columns(event) == {
        "source": "security",
        "event_code": "4698",
        "kind": "scheduled_task",
        "action_type": "ScheduledTaskCreated",
        "user": "EXAMPLE\\Administrator",
    }
    assert event.row["fields"]["EventData"]["TaskName"] == "\\CYAlyNSS"


def test_unmapped_event_is_kept_whole_as_other() -> None:
    raw = _raw(f"{ATTACK}/Command and Control/bits_openvpn.evtx", 7873)

    event = normalize(raw)

    assert _columns(event) == {"source": "evtx", "event_code": "5", "kind": "other"}
    assert event.row["fields"]["EventData"] == raw["EventData"]
    assert event.row["fields"]["channel"] == "Microsoft-Windows-Bits-Client/Operational"


def test_event_without_a_channel_is_kept_too() -> None:
    event = _event(f"{ATTACK}/Credential Access/etw_rpc_zerologon.evtx", 4)

    assert _columns(event) == {"source": "evtx", "event_code": "6", "kind": "other"}
    assert "channel" not in event.row["fields"]
    assert event.row["fields"]["provider"] == "Microsoft-Windows-RPC"


def test_same_record_in_two_files_has_one_dedupe_key() -> None:
    first = _event(f"{ATTACK}/Execution/temp_scheduled_task_4698_4699.evtx", 566836)
    second = _event(f"{ATTACK}/Lateral Movement/LM_ScheduledTask_ATSVC_target_host.evtx", 566836)
    other = _event(f"{ATTACK}/Execution/temp_scheduled_task_4698_4699.evtx", 566840)

    assert first.row["dedupe_key"] == second.row["dedupe_key"]
    assert first.row["dedupe_key"] != other.row["dedupe_key"]
    assert len(first.row["dedupe_key"]) <= 128


def test_untrusted_values_are_cleaned_and_cut_to_their_columns() -> None:
    raw = copy.deepcopy(_raw(f"{ATTACK}/Credential Access/babyshark_mimikatz_powershell.evtx", 14))
    raw["EventData"]["CommandLine"] = "cmd.exe /c " + "A" * 40_000
    raw["EventData"]["User"] = "DOMAIN\\" + "u" * 300
    raw["EventData"]["Image"] = "C:\\evil\x00.exe"
    raw["EventData"]["ProcessId"] = "not a number"
    raw["EventData"]["ParentProcessId"] = 2**40

    event = normalize(strip_nul(raw))

    assert event.row["process_command_line"] == ("cmd.exe /c " + "A" * 40_000)[:32_768]
    assert event.row["user"] == ("DOMAIN\\" + "u" * 300)[:255]
    assert event.row["process_image"] == "C:\\evil.exe"
    assert (event.row["process_id"], event.row["parent_process_id"]) == (None, None)
    fields = event.row["fields"]
    assert fields["process_command_line_truncated"] is True
    assert fields["user_truncated"] is True
    assert len(fields["EventData"]["CommandLine"]) == 40_011


def test_record_time_falls_back_to_the_record_header() -> None:
    raw = copy.deepcopy(_raw(f"{ATTACK}/Execution/temp_scheduled_task_4698_4699.evtx", 566836))
    raw["System"]["TimeCreated"]["#attributes"]["SystemTime"] = "1601-01-01T00:00:00Z"

    event = normalize(raw, written="2019-03-19T00:02:05.000001Z UTC")

    assert event.time == _at("2019-03-19T00:02:05.000001")
    assert event.row["fields"]["time_source"] == "record_header"


@pytest.mark.parametrize("broken", ["no computer", "no time"])
def test_record_without_computer_or_time_is_refused(broken: str) -> None:
    raw = copy.deepcopy(_raw(f"{ATTACK}/Execution/temp_scheduled_task_4698_4699.evtx", 566836))
    if broken == "no computer":
        raw["System"]["Computer"] = ""
    else:
        raw["System"]["TimeCreated"] = None

    with pytest.raises(RecordError):
        normalize(raw, written=None)
