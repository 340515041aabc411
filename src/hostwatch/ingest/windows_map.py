"""Windows event ids mapped onto the normalized event record: one table, read top to bottom.

A table row names, for one (channel, event id), the event's kind and action and which
EventData field fills which column. The few events whose meaning depends on a field value
(a connection's direction, an object's type) add a small function. Events not in the table
are kept as kind `other` with all their fields.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from hostwatch.ingest.windows_values import (
    SUBJECT,
    TARGET,
    Logon,
    Normalized,
    UserFrom,
    address,
    fit,
    integer,
    is_true,
    key_values,
    text_of,
    unnamed_data,
    user_name,
)

# Channels, lower-cased as they are looked up.
SYSMON = "microsoft-windows-sysmon/operational"
SECURITY = "security"
SYSTEM = "system"
POWERSHELL = "microsoft-windows-powershell/operational"
POWERSHELL_CORE = "powershellcore/operational"
WINDOWS_POWERSHELL = "windows powershell"
DEFENDER = "microsoft-windows-windows defender/operational"
TASK_SCHEDULER = "microsoft-windows-taskscheduler/operational"
WMI = "microsoft-windows-wmi-activity/operational"
RDP_CONNECTIONS = "microsoft-windows-terminalservices-remoteconnectionmanager/operational"
RDP_SESSIONS = "microsoft-windows-terminalservices-localsessionmanager/operational"

SOURCES = {
    SYSMON: "sysmon",
    SECURITY: "security",
    SYSTEM: "system",
    POWERSHELL: "powershell",
    POWERSHELL_CORE: "powershell",
    WINDOWS_POWERSHELL: "powershell",
    DEFENDER: "defender",
    TASK_SCHEDULER: "taskscheduler",
    WMI: "wmi",
    RDP_CONNECTIONS: "terminalservices",
    RDP_SESSIONS: "terminalservices",
    "application": "application",
}
OTHER_SOURCE = "evtx"

Adjust = Callable[[Normalized], None]


@dataclass(frozen=True)
class Spec:
    """How one kind of event fills the record."""

    kind: str
    action: str | None = None
    # column -> the EventData field that fills it (or alternatives, first present wins)
    columns: Mapping[str, str | tuple[str, ...]] = field(default_factory=dict)
    user: UserFrom = None
    # Only events of this provider match; some ids mean different things per provider.
    provider: str | None = None
    adjust: Adjust | None = None


# --- extras: events whose mapping depends on their values ----------------------------------


def _sysmon_network(event: Normalized) -> None:
    # Sysmon writes the local end as Source and the remote end as Destination whichever side
    # initiated (the shared samples show inbound 3389 and 139 connections with the local
    # listening port as SourcePort); Initiated says who started it.
    initiated = is_true(event.data.get("Initiated"))
    event.row["action_type"] = "ConnectionInitiated" if initiated else "ConnectionAccepted"
    # Only an outbound connection proves the source address is this device's own: inbound,
    # the local end may be a multicast or broadcast group address.
    address = event.row.get("local_address")
    if initiated and address:
        event.own_addresses.append(address)


_REGISTRY_ACTIONS = {
    "CreateKey": "RegistryKeyCreated",
    "DeleteKey": "RegistryKeyDeleted",
    "DeleteValue": "RegistryValueDeleted",
    "SetValue": "RegistryValueSet",
    "RenameKey": "RegistryKeyRenamed",
}


def _sysmon_registry(event: Normalized) -> None:
    action = _REGISTRY_ACTIONS.get(str(event.data.get("EventType")))
    if action:
        event.row["action_type"] = action


def _object_access(event: Normalized) -> None:
    object_type = text_of(event.data.get("ObjectType"))
    name = fit(event, "target_file", event.data.get("ObjectName"))
    if object_type == "File":
        event.row["kind"] = "file"
        event.row["target_file"] = name
    elif object_type == "Key":
        event.row["kind"] = "registry"
        event.row["target_registry_key"] = name


def _process_created(event: Normalized) -> None:
    # The target account is set when the new process runs as someone other than its creator.
    event.row["user"] = fit(
        event, "user", user_name(event.data, TARGET) or user_name(event.data, SUBJECT)
    )


def _logon(event: Normalized) -> None:
    name = event.row.get("user")
    sid = text_of(event.data.get("TargetUserSid"))
    if name is None or _is_service_account(name, sid):
        return
    host = address(event.data.get("IpAddress")) or text_of(event.data.get("WorkstationName"))
    event.logon = Logon(
        name=name,
        sid=sid,
        logon_type=integer(event.data.get("LogonType"), 0xFFFF),
        host=host,
        time=event.time,
    )


def _is_service_account(name: str, sid: str | None) -> bool:
    # Logged-on users are people: not SYSTEM, LOCAL/NETWORK SERVICE, anonymous, the virtual
    # accounts of window managers and font drivers (S-1-5-90, S-1-5-96), nor computers ($).
    if name.endswith("$"):
        return True
    return sid is not None and (
        sid in {"S-1-5-18", "S-1-5-19", "S-1-5-20", "S-1-5-7", "S-1-0-0"}
        or sid.startswith(("S-1-5-90-", "S-1-5-96-"))
    )


_DIRECTIONS = {"%%14592": "Inbound", "%%14593": "Outbound"}


def _filtering_platform(event: Normalized) -> None:
    # As with Sysmon, the Source fields are the local end in both directions.
    direction = _DIRECTIONS.get(str(event.data.get("Direction")))
    if direction:
        event.row["action_type"] = f"{direction}{event.row['action_type']}"


def _host_application(event: Normalized) -> None:
    # The classic log keeps its fields as Name=value lines in the last unnamed Data string.
    unnamed = unnamed_data(event.data)
    values = key_values(unnamed[-1]) if unnamed else {}
    event.row["process_command_line"] = fit(
        event, "process_command_line", values.get("HostApplication")
    )
    if values.get("UserId"):
        event.row["user"] = fit(event, "user", values["UserId"])


def _module_logging(event: Normalized) -> None:
    values = key_values(event.data.get("ContextInfo"))
    event.row["process_command_line"] = fit(
        event, "process_command_line", values.get("Host Application")
    )
    event.row["user"] = fit(event, "user", values.get("User"))
    _executing_process(event)


def _executing_process(event: Normalized) -> None:
    # PowerShell logs from inside the process that runs the script, so the record's own
    # process id is the acting process.
    event.row["process_id"] = integer(event.row["fields"].get("execution_process_id"), 2**32)


def _defender_path(event: Normalized) -> None:
    path = text_of(event.data.get("Path"))
    if path and path.startswith("file:_"):
        path = path[len("file:_") :].split(";file:_")[0]
    event.row["target_file"] = fit(event, "target_file", path)


# --- the table -----------------------------------------------------------------------------

_ACTOR = {"process_id": "ProcessId", "process_image": "Image", "process_guid": "ProcessGuid"}
_SOURCE_ACTOR: dict[str, str | tuple[str, ...]] = {
    "process_id": "SourceProcessId",
    "process_image": "SourceImage",
    "process_guid": ("SourceProcessGuid", "SourceProcessGUID"),
    "target_file": "TargetImage",
}
_SECURITY_PROCESS = {"process_id": "ProcessId", "process_image": "ProcessName"}
_SECURITY_REMOTE = {"remote_address": "IpAddress", "remote_port": "IpPort"}


def _sysmon(kind: str, action: str, adjust: Adjust | None = None, **columns: str) -> Spec:
    return Spec(kind, action, {**_ACTOR, **columns}, user="User", adjust=adjust)


SYSMON_EVENTS: dict[int, Spec] = {
    1: _sysmon(
        "process",
        "ProcessCreated",
        process_command_line="CommandLine",
        process_sha256="Hashes",
        parent_process_id="ParentProcessId",
        parent_process_image="ParentImage",
        parent_process_command_line="ParentCommandLine",
        parent_process_guid="ParentProcessGuid",
    ),
    2: _sysmon("file", "FileCreationTimeChanged", target_file="TargetFilename"),
    3: _sysmon(
        "network",
        "NetworkConnection",
        _sysmon_network,
        local_address="SourceIp",
        local_port="SourcePort",
        remote_address="DestinationIp",
        remote_port="DestinationPort",
        dns_name="DestinationHostname",
    ),
    4: Spec("other", "SysmonStateChanged"),
    5: _sysmon("process", "ProcessTerminated"),
    6: Spec("image_load", "DriverLoaded", {"target_file": "ImageLoaded"}),
    7: _sysmon("image_load", "ImageLoaded", target_file="ImageLoaded"),
    8: Spec("process", "RemoteThreadCreated", _SOURCE_ACTOR, user="SourceUser"),
    9: _sysmon("file", "RawDiskRead", target_file="Device"),
    10: Spec("process", "ProcessAccessed", _SOURCE_ACTOR, user="SourceUser"),
    11: _sysmon("file", "FileCreated", target_file="TargetFilename"),
    12: _sysmon(
        "registry", "RegistryKeyChanged", _sysmon_registry, target_registry_key="TargetObject"
    ),
    13: _sysmon(
        "registry",
        "RegistryValueSet",
        target_registry_key="TargetObject",
        target_registry_value="Details",
    ),
    14: _sysmon("registry", "RegistryKeyRenamed", target_registry_key="TargetObject"),
    15: _sysmon("file", "FileStreamCreated", target_file="TargetFilename"),
    16: Spec("other", "SysmonConfigChanged"),
    17: _sysmon("pipe", "PipeCreated", target_file="PipeName"),
    18: _sysmon("pipe", "PipeConnected", target_file="PipeName"),
    19: Spec("wmi", "WmiFilterRegistered", user="User"),
    20: Spec("wmi", "WmiConsumerRegistered", user="User"),
    21: Spec("wmi", "WmiBindingRegistered", user="User"),
    22: _sysmon("dns", "DnsQuery", dns_name="QueryName"),
    23: _sysmon("file", "FileDeleted", target_file="TargetFilename"),
    24: _sysmon("other", "ClipboardChanged"),
    25: _sysmon("process", "ProcessTampered"),
    26: _sysmon("file", "FileDeleteDetected", target_file="TargetFilename"),
    27: _sysmon("file", "ExecutableFileBlocked", target_file="TargetFilename"),
    28: _sysmon("file", "FileShreddingBlocked", target_file="TargetFilename"),
    29: _sysmon("file", "ExecutableFileDetected", target_file="TargetFilename"),
}

# Account and group management: who did it is the subject; whom it concerns stays in fields.
_ACCOUNT_CHANGES = {
    4720: ("account", "UserAccountCreated"),
    4722: ("account", "UserAccountEnabled"),
    4723: ("account", "PasswordChangeAttempted"),
    4724: ("account", "PasswordResetAttempted"),
    4725: ("account", "UserAccountDisabled"),
    4726: ("account", "UserAccountDeleted"),
    4727: ("group", "SecurityGroupCreated"),
    4728: ("group", "MemberAddedToSecurityGroup"),
    4729: ("group", "MemberRemovedFromSecurityGroup"),
    4730: ("group", "SecurityGroupDeleted"),
    4731: ("group", "SecurityGroupCreated"),
    4732: ("group", "MemberAddedToSecurityGroup"),
    4733: ("group", "MemberRemovedFromSecurityGroup"),
    4734: ("group", "SecurityGroupDeleted"),
    4735: ("group", "SecurityGroupChanged"),
    4737: ("group", "SecurityGroupChanged"),
    4738: ("account", "UserAccountChanged"),
    4739: ("account", "DomainPolicyChanged"),
    4740: ("account", "UserAccountLockedOut"),
    4741: ("account", "ComputerAccountCreated"),
    4742: ("account", "ComputerAccountChanged"),
    4743: ("account", "ComputerAccountDeleted"),
    4744: ("group", "DistributionGroupCreated"),
    4745: ("group", "DistributionGroupChanged"),
    4746: ("group", "MemberAddedToDistributionGroup"),
    4747: ("group", "MemberRemovedFromDistributionGroup"),
    4748: ("group", "DistributionGroupDeleted"),
    4749: ("group", "DistributionGroupCreated"),
    4750: ("group", "DistributionGroupChanged"),
    4751: ("group", "MemberAddedToDistributionGroup"),
    4752: ("group", "MemberRemovedFromDistributionGroup"),
    4753: ("group", "DistributionGroupDeleted"),
    4754: ("group", "SecurityGroupCreated"),
    4755: ("group", "SecurityGroupChanged"),
    4756: ("group", "MemberAddedToSecurityGroup"),
    4757: ("group", "MemberRemovedFromSecurityGroup"),
    4758: ("group", "SecurityGroupDeleted"),
    4759: ("group", "DistributionGroupCreated"),
    4760: ("group", "DistributionGroupChanged"),
    4761: ("group", "MemberAddedToDistributionGroup"),
    4762: ("group", "MemberRemovedFromDistributionGroup"),
    4763: ("group", "DistributionGroupDeleted"),
    4764: ("group", "GroupTypeChanged"),
    4765: ("account", "SidHistoryAdded"),
    4766: ("account", "SidHistoryAddFailed"),
    4767: ("account", "UserAccountUnlocked"),
}

_LOGON_COLUMNS = {**_SECURITY_PROCESS, **_SECURITY_REMOTE}
_CONNECTION = {
    "process_id": "ProcessID",
    "process_image": "Application",
    "local_address": "SourceAddress",
    "local_port": "SourcePort",
    "remote_address": "DestAddress",
    "remote_port": "DestPort",
}

SECURITY_EVENTS: dict[int, Spec] = {
    4624: Spec("logon", "LogonSuccess", _LOGON_COLUMNS, TARGET, adjust=_logon),
    4625: Spec("logon", "LogonFailed", _LOGON_COLUMNS, TARGET),
    4634: Spec("logon", "Logoff", user=TARGET),
    4647: Spec("logon", "LogoffRequested", user=TARGET),
    4648: Spec("logon", "ExplicitCredentialsLogon", _LOGON_COLUMNS, SUBJECT),
    4656: Spec(
        "object_access", "ObjectHandleRequested", _SECURITY_PROCESS, SUBJECT, adjust=_object_access
    ),
    4658: Spec("object_access", "ObjectHandleClosed", _SECURITY_PROCESS, SUBJECT),
    4660: Spec("object_access", "ObjectDeleted", _SECURITY_PROCESS, SUBJECT),
    4661: Spec("object_access", "ObjectHandleRequested", _SECURITY_PROCESS, SUBJECT),
    4662: Spec("directory", "DirectoryObjectAccessed", user=SUBJECT),
    4663: Spec(
        "object_access", "ObjectAccessed", _SECURITY_PROCESS, SUBJECT, adjust=_object_access
    ),
    4672: Spec("logon", "SpecialPrivilegesAssigned", user=SUBJECT),
    4688: Spec(
        "process",
        "ProcessCreated",
        {
            "process_id": "NewProcessId",
            "process_image": "NewProcessName",
            "process_command_line": "CommandLine",
            "parent_process_id": "ProcessId",
            "parent_process_image": "ParentProcessName",
        },
        adjust=_process_created,
    ),
    4689: Spec("process", "ProcessTerminated", _SECURITY_PROCESS, SUBJECT),
    4697: Spec("service", "ServiceInstalled", {"target_file": "ServiceFileName"}, SUBJECT),
    4698: Spec("scheduled_task", "ScheduledTaskCreated", user=SUBJECT),
    4699: Spec("scheduled_task", "ScheduledTaskDeleted", user=SUBJECT),
    4700: Spec("scheduled_task", "ScheduledTaskEnabled", user=SUBJECT),
    4701: Spec("scheduled_task", "ScheduledTaskDisabled", user=SUBJECT),
    4702: Spec("scheduled_task", "ScheduledTaskUpdated", user=SUBJECT),
    **{
        event_id: Spec(kind, action, user=SUBJECT)
        for event_id, (kind, action) in _ACCOUNT_CHANGES.items()
    },
    4768: Spec("kerberos", "KerberosTgtRequested", _SECURITY_REMOTE, TARGET),
    # In 4769 and 4771 the user name already carries the realm (user@REALM), or stands alone.
    4769: Spec("kerberos", "KerberosServiceTicketRequested", _SECURITY_REMOTE, "TargetUserName"),
    4770: Spec("kerberos", "KerberosServiceTicketRenewed", _SECURITY_REMOTE, "TargetUserName"),
    4771: Spec("kerberos", "KerberosPreauthFailed", _SECURITY_REMOTE, "TargetUserName"),
    4776: Spec("logon", "CredentialValidation", user="TargetUserName"),
    5136: Spec("directory", "DirectoryObjectModified", user=SUBJECT),
    5137: Spec("directory", "DirectoryObjectCreated", user=SUBJECT),
    5141: Spec("directory", "DirectoryObjectDeleted", user=SUBJECT),
    5140: Spec("share", "ShareAccessed", _SECURITY_REMOTE, SUBJECT),
    5142: Spec("share", "ShareAdded", user=SUBJECT),
    5143: Spec("share", "ShareModified", user=SUBJECT),
    5144: Spec("share", "ShareDeleted", user=SUBJECT),
    5145: Spec(
        "share",
        "ShareObjectChecked",
        {**_SECURITY_REMOTE, "target_file": "RelativeTargetName"},
        SUBJECT,
    ),
    5156: Spec("network", "ConnectionAllowed", _CONNECTION, adjust=_filtering_platform),
    5157: Spec("network", "ConnectionBlocked", _CONNECTION, adjust=_filtering_platform),
    1102: Spec("audit", "AuditLogCleared", user=SUBJECT, provider="Microsoft-Windows-Eventlog"),
}

_SCM = "Service Control Manager"
SYSTEM_EVENTS: dict[int, Spec] = {
    7045: Spec("service", "ServiceInstalled", {"target_file": "ImagePath"}, provider=_SCM),
    7036: Spec("service", "ServiceStateChanged", provider=_SCM),
    7040: Spec("service", "ServiceStartTypeChanged", provider=_SCM),
    104: Spec("audit", "EventLogCleared", user=SUBJECT, provider="Microsoft-Windows-Eventlog"),
}

POWERSHELL_EVENTS: dict[int, Spec] = {
    4103: Spec("script", "ModuleLogged", adjust=_module_logging),
    4104: Spec("script", "ScriptBlock", adjust=_executing_process),
}

WINDOWS_POWERSHELL_EVENTS: dict[int, Spec] = {
    400: Spec("script", "EngineStarted", adjust=_host_application),
    403: Spec("script", "EngineStopped", adjust=_host_application),
    600: Spec("script", "ProviderStarted", adjust=_host_application),
    800: Spec("script", "PipelineExecuted", adjust=_host_application),
}


def _detection(action: str) -> Spec:
    return Spec(
        "antivirus",
        action,
        {"process_image": "Process Name"},
        "Detection User",
        adjust=_defender_path,
    )


DEFENDER_EVENTS: dict[int, Spec] = {
    1006: _detection("MalwareDetected"),
    1007: _detection("MalwareActionTaken"),
    1008: _detection("MalwareActionFailed"),
    1116: _detection("MalwareDetected"),
    1117: _detection("MalwareActionTaken"),
    1118: _detection("MalwareActionFailed"),
    1119: _detection("MalwareActionFailed"),
    5001: Spec("antivirus", "RealtimeProtectionDisabled"),
    5007: Spec("antivirus", "AntivirusConfigChanged"),
    5010: Spec("antivirus", "SpywareScanningDisabled"),
    5012: Spec("antivirus", "VirusScanningDisabled"),
}

TASK_SCHEDULER_EVENTS: dict[int, Spec] = {
    100: Spec("scheduled_task", "ScheduledTaskStarted", user="UserContext"),
    102: Spec("scheduled_task", "ScheduledTaskCompleted", user="UserContext"),
    106: Spec("scheduled_task", "ScheduledTaskRegistered", user="UserContext"),
    129: Spec(
        "scheduled_task",
        "ScheduledTaskProcessCreated",
        {"process_id": "ProcessID", "process_image": "Path"},
    ),
    140: Spec("scheduled_task", "ScheduledTaskUpdated", user="UserName"),
    141: Spec("scheduled_task", "ScheduledTaskDeleted", user="UserName"),
    142: Spec("scheduled_task", "ScheduledTaskDisabled", user="UserName"),
    200: Spec("scheduled_task", "ScheduledTaskActionStarted", {"process_image": "ActionName"}),
    201: Spec("scheduled_task", "ScheduledTaskActionCompleted", {"process_image": "ActionName"}),
}

# WMI-Activity keeps its fields in UserData; their names vary a little between versions.
WMI_EVENTS: dict[int, Spec] = {
    5857: Spec(
        "wmi",
        "WmiProviderLoaded",
        {"process_id": ("ProcessID", "processid"), "target_file": "ProviderPath"},
    ),
    5858: Spec("wmi", "WmiOperationFailed", {"process_id": "ClientProcessId"}, user="User"),
    5859: Spec("wmi", "WmiEventFilterActivated", {"process_id": "processid"}, user="User"),
    5860: Spec("wmi", "WmiTemporarySubscriptionRegistered", {"process_id": "processid"}, "User"),
    5861: Spec("wmi", "WmiPermanentSubscriptionRegistered"),
}

RDP_CONNECTION_EVENTS: dict[int, Spec] = {
    # "Remote Desktop Services: User authentication succeeded": user, domain, source address.
    1149: Spec(
        "logon", "RemoteDesktopAuthenticated", {"remote_address": "Param3"}, ("Param2", "Param1")
    ),
}

RDP_SESSION_EVENTS: dict[int, Spec] = {
    21: Spec("logon", "RemoteDesktopSessionLogon", {"remote_address": "Address"}, "User"),
    22: Spec("logon", "RemoteDesktopShellStarted", {"remote_address": "Address"}, "User"),
    23: Spec("logon", "RemoteDesktopSessionLogoff", user="User"),
    24: Spec("logon", "RemoteDesktopSessionDisconnected", {"remote_address": "Address"}, "User"),
    25: Spec("logon", "RemoteDesktopSessionReconnected", {"remote_address": "Address"}, "User"),
}

EVENTS: dict[tuple[str, int], Spec] = {
    (channel, event_id): spec
    for channel, table in (
        (SYSMON, SYSMON_EVENTS),
        (SECURITY, SECURITY_EVENTS),
        (SYSTEM, SYSTEM_EVENTS),
        (POWERSHELL, POWERSHELL_EVENTS),
        (POWERSHELL_CORE, POWERSHELL_EVENTS),
        (WINDOWS_POWERSHELL, WINDOWS_POWERSHELL_EVENTS),
        (DEFENDER, DEFENDER_EVENTS),
        (TASK_SCHEDULER, TASK_SCHEDULER_EVENTS),
        (WMI, WMI_EVENTS),
        (RDP_CONNECTIONS, RDP_CONNECTION_EVENTS),
        (RDP_SESSIONS, RDP_SESSION_EVENTS),
    )
    for event_id, spec in table.items()
}
UNMAPPED = Spec("other")
