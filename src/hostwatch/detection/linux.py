"""The Sigma fields of the agent's Linux events, and which Linux rules they can feed.

The mapping lives here, in the view, rather than in a pySigma pipeline: the agent's rows are
our own shape, so the view can present Sigma's Linux taxonomy names directly (`Image`,
`CommandLine`, `TargetFilename`, ...) as the Windows view presents EVTX names, and the rules
stay as written. Some fields are not renames but derivations a pipeline could not express:
auditd's `a0`..`aN` come from splitting the stored command line back into its arguments, and
`Initiated` from the connection's direction.

An agent event feeds the log sources it stands for (`feeds_of`): a process start feeds
`process_creation`, a file change `file_event`, a connection `network_connection`; an event
the audit collector built also feeds the `auditd` service, with one merged view of the audit
records it was assembled from (SYSCALL, EXECVE, CWD, PATH, SOCKADDR).

Limitation: auditd rules see one merged view per agent event, not one per audit record:
`type` lists every record type the event was built from, so a rule that requires one record
type and a field of another (`type: PATH` with `exe: ...`) can match where auditd would not.
Limitation: the agent keeps neither its audit records' raw syscall arguments (the hex `a0`..
`a3` of a SYSCALL record), nor the audit rule `key` of other rule sets, nor the PATH records
of reads, nor host names of connections (`DestinationHostname`); rules that need them do not
match. `usability` names them per rule.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hostwatch.detection.compile import Node

LINUX = "linux"
PROCESS_CREATION = "process_creation"
FILE_EVENT = "file_event"
NETWORK_CONNECTION = "network_connection"
AUDITD = "auditd"
AGENT_SOURCE = "agent"

# The fields each log source gets from an agent event (auditd: those of the merged records).
SUPPLIED: dict[str, frozenset[str]] = {
    PROCESS_CREATION: frozenset(
        {
            "Image",
            "CommandLine",
            "ParentImage",
            "ParentCommandLine",
            "User",
            "CurrentDirectory",
            "ProcessId",
            "ParentProcessId",
            "LogonId",
            "ProcessGuid",
            "ParentProcessGuid",
            "Hashes",
            "sha256",
        }
    ),
    FILE_EVENT: frozenset({"TargetFilename", "Image", "CommandLine", "User", "ProcessId"}),
    NETWORK_CONNECTION: frozenset(
        {
            "Image",
            "User",
            "ProcessId",
            "DestinationIp",
            "DestinationPort",
            "SourceIp",
            "SourcePort",
            "Initiated",
            "Protocol",
        }
    ),
    # a0..a63 are added below: EXECVE arguments of process starts.
    AUDITD: frozenset(
        {
            "type",
            "syscall",
            "SYSCALL",
            "exe",
            "comm",
            "cwd",
            "name",
            "nametype",
            "argc",
            "pid",
            "ppid",
        }
        | {"uid", "euid", "auid", "ses", "tty", "success"}
    ),
}
MAX_ARGUMENTS = 64  # EXECVE a0..a63 in the view; later arguments only in CommandLine
# The PATH record's nametype of the file a change names (a rename: its new name).
_NAMETYPES = {
    "FileCreated": "CREATE",
    "FileDeleted": "DELETE",
    "FileModified": "NORMAL",
    "FileRenamed": "CREATE",
}
_ARGUMENT_NAMES = tuple(f"a{i}" for i in range(MAX_ARGUMENTS))


class AgentView(dict[str, Any]):
    """A view of an agent event, with the log sources it feeds (a key of the rule index)."""

    __slots__ = ("feeds",)

    def __init__(self, feeds: str) -> None:
        super().__init__()
        self.feeds = feeds


def feeds_of(row: Mapping[str, Any]) -> tuple[str, ...]:
    """The Linux log sources (categories, and the auditd service) an agent event feeds."""
    kind = row.get("kind")
    fields = row.get("fields") or {}
    found: list[str] = []
    if kind == "process" and row.get("action_type") == "ProcessCreated":
        found.append(PROCESS_CREATION)
    elif kind == "file":
        found.append(FILE_EVENT)
    elif kind == "network":
        found.append(NETWORK_CONNECTION)
    if fields.get("collector") == "audit" and kind in ("process", "file", "network"):
        found.append(AUDITD)
    return tuple(found)


def _put(view: dict[str, Any], name: str, value: Any) -> None:
    if value is None or value == "":
        return
    view[name] = value if value.__class__ in (str, int, float, list) else str(value)


def arguments(line: str | None) -> list[str] | None:
    """The argument vector back from the agent's shell-quoted command line; None when the
    line cannot be split (it was truncated inside a quoted argument)."""
    if not line:
        return None
    try:
        return shlex.split(line)
    except ValueError:
        return None


def agent_view(row: Mapping[str, Any]) -> AgentView:
    """The Sigma fields of one agent event row, for every log source it feeds."""
    feeds = feeds_of(row)
    view = AgentView("+".join(feeds))
    fields = row.get("fields") or {}
    kind = row.get("kind")
    image = row.get("process_image")
    line = row.get("process_command_line")
    argv = arguments(line)
    _put(view, "Image", image)
    _put(view, "CommandLine", _as_written(line, argv))
    _put(view, "User", row.get("user"))
    _put(view, "ProcessId", row.get("process_id"))
    _put(view, "ProcessGuid", row.get("process_guid"))
    if PROCESS_CREATION in feeds:
        _put(view, "ParentImage", row.get("parent_process_image"))
        parent = row.get("parent_process_command_line")
        _put(view, "ParentCommandLine", _as_written(parent, arguments(parent)))
        _put(view, "ParentProcessId", row.get("parent_process_id"))
        _put(view, "ParentProcessGuid", row.get("parent_process_guid"))
        _put(view, "CurrentDirectory", fields.get("cwd"))
        # Sysmon for Linux's LogonId is the login uid (auid); the agent keeps it when set.
        _put(view, "LogonId", fields.get("auid"))
        sha256 = row.get("process_sha256")
        if sha256:
            view["Hashes"] = f"SHA256={sha256.upper()}"
            view["sha256"] = sha256
    if kind == "file":
        _put(view, "TargetFilename", row.get("target_file"))
    if kind == "network":
        initiated = fields.get("initiated")
        if initiated is None:
            initiated = fields.get("direction") != "inbound"
        local = (row.get("local_address"), row.get("local_port"))
        remote = (row.get("remote_address"), row.get("remote_port"))
        # Source is the side that connected, destination the side that accepted.
        source, destination = (local, remote) if initiated else (remote, local)
        _put(view, "SourceIp", source[0])
        _put(view, "SourcePort", source[1])
        _put(view, "DestinationIp", destination[0])
        _put(view, "DestinationPort", destination[1])
        view["Initiated"] = "true" if initiated else "false"
        _put(view, "Protocol", fields.get("protocol"))
    if AUDITD in feeds:
        _audit_fields(view, row, fields, argv)
    return view


def _as_written(line: str | None, argv: list[str] | None) -> str | None:
    """The command line as Sigma's Linux rules expect it: the arguments joined by spaces,
    without the shell quoting the agent stores (`bash -c 'a | bash'` reads `bash -c a | bash`,
    so that `CommandLine|endswith: '| bash'` holds as it does under Sysmon for Linux)."""
    return " ".join(argv) if argv is not None else line


def _audit_fields(
    view: AgentView, row: Mapping[str, Any], fields: Mapping[str, Any], argv: list[str] | None
) -> None:
    kind = row.get("kind")
    types = ["SYSCALL"]
    _put(view, "syscall", row.get("event_code"))
    _put(view, "SYSCALL", row.get("event_code"))  # auditd's interpreted name of the number
    _put(view, "exe", row.get("process_image"))
    _put(view, "comm", fields.get("comm"))
    _put(view, "pid", row.get("process_id"))
    _put(view, "ppid", row.get("parent_process_id"))
    for name in ("uid", "euid", "auid", "tty"):
        _put(view, name, fields.get(name))
    _put(view, "ses", fields.get("session"))
    if kind == "process" and row.get("action_type") == "ProcessCreated":
        types += ["EXECVE", "CWD", "PATH"]
        _put(view, "cwd", fields.get("cwd"))
        # Limitation: the PATH record of an exec names the file as execve was given it
        # (possibly relative); the view gives the resolved image instead.
        _put(view, "name", row.get("process_image"))
        if argv:
            view["argc"] = len(argv)
            for name, value in zip(_ARGUMENT_NAMES, argv, strict=False):
                view[name] = value
    elif kind == "file":
        types.append("PATH")
        _put(view, "name", row.get("target_file"))
        _put(view, "nametype", _NAMETYPES.get(row.get("action_type") or ""))
    elif kind == "network":
        types.append("SOCKADDR")
    view["type"] = types


def node_fields(node: Node) -> set[str | None]:
    """Every field a compiled condition names; None for a keyword (any field) search."""
    found: set[str | None] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if item.children:
            stack.extend(item.children)
        elif item.kind != "and" and item.kind != "or" and item.kind != "not":
            found.add(item.field)
    return found


def usability(
    product: str | None, category: str | None, service: str | None, names: Iterable[str | None]
) -> str | None:
    """Why a Linux rule cannot match agent events; None when every field it names is there."""
    if product != LINUX:
        return "not a Linux rule"
    source = category or service
    if source is None:
        return "reads free text of Linux logs (syslog, shell history); the agent keeps none"
    supplied = SUPPLIED.get(source)
    if supplied is None:
        return f"log source {source!r} is not fed by the agent"
    missing = sorted(
        "keywords" if name is None else name
        for name in set(names)
        if (name is None and source != AUDITD)
        or (name is not None and name not in supplied and name not in _ARGUMENT_NAMES)
    )
    if missing:
        return f"names fields the agent does not store: {', '.join(missing)}"
    return None
