"""The agent's own audit rules: which syscalls it watches, and adding and removing exactly those.

Audit rules are global to the kernel. Every rule the agent adds carries its key, and removal
lists the kernel's rules and deletes only those carrying that key, so rules an administrator
added (with auditctl or anything else) are never touched.
"""

from __future__ import annotations

import errno
import logging
import platform
from dataclasses import dataclass, replace

from hostwatch.agent.audit.netlink import (
    AUDIT_ARCH,
    AUDIT_ARCH_AARCH64,
    AUDIT_ARCH_ARM,
    AUDIT_ARCH_I386,
    AUDIT_ARCH_X86_64,
    AUDIT_ARG0,
    AUDIT_BIT_MASK,
    AUDIT_BITMASK_SIZE,
    AUDIT_DIR,
    AUDIT_EQUAL,
    AUDIT_EXIT,
    AUDIT_FILTER_PREPEND,
    AUDIT_PERM,
    AUDIT_PERM_ATTR,
    AUDIT_PERM_WRITE,
    AUDIT_SUCCESS,
    AUDIT_WATCH,
    AuditError,
    AuditRule,
    AuditSocket,
    RuleField,
)

logger = logging.getLogger(__name__)

DEFAULT_KEY = "hostwatch-agent"
EINPROGRESS = 115
O_CREAT = 0o100  # the same on x86 and arm (include/uapi/asm-generic/fcntl.h)
EXEC_BITS = 0o111


@dataclass(frozen=True)
class _Arch:
    audit_arch: int
    execve: int
    execveat: int
    exit_group: int
    connect: int
    accepts: tuple[int, ...]  # accept, then accept4 (i386 has only accept4)
    files: _FileCalls


@dataclass(frozen=True)
class _FileCalls:
    """The syscalls that can leave an executable in a directory, with the argument that holds
    the mode (and the open flags)."""

    chmods: tuple[tuple[int, int], ...]  # (syscall, index of the mode argument)
    creates: tuple[tuple[int, int | None, int], ...]  # (syscall, flags arg or None, mode arg)
    moves: tuple[int, ...]  # rename, link and unlink in all their forms
    names: dict[int, str]


# Syscall numbers from each architecture's syscall table (arch/*/entry/syscalls, and the
# generic table in include/uapi/asm-generic/unistd.h for arm64). i386 has no plain accept
# syscall, only accept4 and the multiplexed socketcall.
# Limitation: 32-bit programs that reach connect or accept through socketcall(2) (old i386
# libcs) are not seen; current glibc calls the direct syscalls.
_X86_64_FILES = _FileCalls(
    chmods=((90, 1), (91, 1), (268, 2), (452, 2)),
    creates=((2, 1, 2), (257, 2, 3), (85, None, 1)),
    moves=(82, 264, 316, 86, 265, 87, 263),
    names={90: "chmod", 91: "fchmod", 268: "fchmodat", 452: "fchmodat2", 2: "open",
           257: "openat", 85: "creat", 82: "rename", 264: "renameat", 316: "renameat2",
           86: "link", 265: "linkat", 87: "unlink", 263: "unlinkat", 83: "mkdir",
           258: "mkdirat", 84: "rmdir", 76: "truncate", 77: "ftruncate", 92: "chown",
           93: "fchown", 94: "lchown", 260: "fchownat", 280: "utimensat", 88: "symlink",
           266: "symlinkat", 188: "setxattr", 189: "lsetxattr", 190: "fsetxattr",
           437: "openat2"},
)  # fmt: skip
_I386_FILES = _FileCalls(
    chmods=((15, 1), (94, 1), (306, 2), (452, 2)),
    creates=((5, 1, 2), (295, 2, 3), (8, None, 1)),
    moves=(38, 302, 353, 9, 303, 10, 301),
    names={15: "chmod", 94: "fchmod", 306: "fchmodat", 452: "fchmodat2", 5: "open",
           295: "openat", 8: "creat", 38: "rename", 302: "renameat", 353: "renameat2",
           9: "link", 303: "linkat", 10: "unlink", 301: "unlinkat"},
)  # fmt: skip
_AARCH64_FILES = _FileCalls(
    chmods=((52, 1), (53, 2), (452, 2)),
    creates=((56, 2, 3),),
    moves=(38, 276, 37, 35),
    names={52: "fchmod", 53: "fchmodat", 452: "fchmodat2", 56: "openat", 38: "renameat",
           276: "renameat2", 37: "linkat", 35: "unlinkat", 34: "mkdirat", 46: "ftruncate",
           45: "truncate", 88: "utimensat", 54: "fchownat", 55: "fchown", 36: "symlinkat"},
)  # fmt: skip
_ARM_FILES = _FileCalls(
    chmods=((15, 1), (94, 1), (333, 2), (452, 2)),
    creates=((5, 1, 2), (322, 2, 3), (8, None, 1)),
    moves=(38, 329, 382, 9, 330, 10, 328),
    names={15: "chmod", 94: "fchmod", 333: "fchmodat", 452: "fchmodat2", 5: "open",
           322: "openat", 8: "creat", 38: "rename", 329: "renameat", 382: "renameat2",
           9: "link", 330: "linkat", 10: "unlink", 328: "unlinkat"},
)  # fmt: skip
_X86_64 = _Arch(AUDIT_ARCH_X86_64, 59, 322, 231, 42, (43, 288), _X86_64_FILES)
_I386 = _Arch(AUDIT_ARCH_I386, 11, 358, 252, 362, (364,), _I386_FILES)
_AARCH64 = _Arch(AUDIT_ARCH_AARCH64, 221, 281, 94, 203, (202, 242), _AARCH64_FILES)
_ARM = _Arch(AUDIT_ARCH_ARM, 11, 387, 248, 283, (285, 366), _ARM_FILES)
_ARCHES = {"x86_64": (_X86_64, _I386), "aarch64": (_AARCH64, _ARM)}


def _arches(machine: str | None = None) -> tuple[_Arch, ...]:
    machine = machine or platform.machine()
    if machine not in _ARCHES:
        raise AuditError(f"no audit syscall table for machine type {machine!r}")
    return _ARCHES[machine]


def agent_rules(key: str = DEFAULT_KEY, machine: str | None = None) -> list[AuditRule]:
    """The rules the agent needs, for the native and the 32-bit compat architecture."""
    rules: list[AuditRule] = []
    for arch in _arches(machine):
        tag = RuleField.key(key)
        on_arch = RuleField(AUDIT_ARCH, AUDIT_EQUAL, arch.audit_arch)
        success = RuleField(AUDIT_SUCCESS, AUDIT_EQUAL, 1)
        # Successful execs only: shells and exec*p() try each PATH directory in turn, and
        # the failed tries would outnumber the real starts several times over.
        # Limitation: an exec refused by permissions (say, from a noexec /tmp) is not seen.
        execs = frozenset({arch.execve, arch.execveat})
        rules.append(AuditRule(execs, (on_arch, success, tag)))
        # exit_group never returns; the kernel logs it when the task exits. Threads that
        # end with plain exit(2) are not processes ending, so that syscall is left out.
        # Limitation: a process killed by a signal, or a single-threaded one that calls the
        # raw exit syscall (not exit_group, which every libc uses), makes no exit_group call
        # and ends without a ProcessTerminated event.
        rules.append(AuditRule(frozenset({arch.exit_group}), (on_arch, tag)))
        network = frozenset({arch.connect, *arch.accepts})
        rules.append(AuditRule(network, (on_arch, success, tag)))
        # A non-blocking connect returns EINPROGRESS; most clients connect that way.
        in_progress = RuleField(AUDIT_EXIT, AUDIT_EQUAL, -EINPROGRESS)
        rules.append(AuditRule(frozenset({arch.connect}), (on_arch, in_progress, tag)))
    return rules


# Every syscall: the kernel matches a watch's `perm` against the syscall's class itself.
_ALL_SYSCALLS = frozenset(range(AUDIT_BITMASK_SIZE * 32 - 16))
_ALL_CLASSES = (0,) * (AUDIT_BITMASK_SIZE - 1) + (0xFFFF0000,)


def watch_rule(path: str, is_dir: bool, key: str = DEFAULT_KEY) -> AuditRule:
    """`auditctl -w PATH -p wa`: writes and attribute changes of a file, or under a directory.

    A file watch (AUDIT_WATCH) may name a path that does not exist yet, as long as its parent
    does; it then also sees entries created in or removed from a directory of that name. A
    directory watch (AUDIT_DIR) covers the whole tree below, but the directory must exist.
    """
    where = RuleField(AUDIT_DIR if is_dir else AUDIT_WATCH, AUDIT_EQUAL, path)
    perm = RuleField(AUDIT_PERM, AUDIT_EQUAL, AUDIT_PERM_WRITE | AUDIT_PERM_ATTR)
    return AuditRule(_ALL_SYSCALLS, (where, perm, RuleField.key(key)), extra_mask=_ALL_CLASSES)


def exec_drop_rules(
    directory: str, key: str = DEFAULT_KEY, machine: str | None = None
) -> list[AuditRule]:
    """Rules for executables left in `directory` (say /tmp): a chmod that sets an execute
    bit, a create whose mode has one, and every rename, link and unlink.

    A plain `-w /tmp -p wa` would log every write-open of every temporary file; these rules
    let the kernel drop all of that and keep what can make an executable appear. Renames and
    unlinks are filtered after the fact on the mode the PATH record gives.

    Limitation: a file written without an execute bit (an ELF later run through ld.so, or a
    script run as `sh FILE`) is not reported, nor is one created with openat2(2), whose
    mode sits in a struct the kernel's argument filters cannot read. Every unlink in these
    directories still reaches the agent, to be dropped there unless it was executable.
    """
    rules: list[AuditRule] = []
    under = RuleField(AUDIT_DIR, AUDIT_EQUAL, directory)
    tag = RuleField.key(key)
    success = RuleField(AUDIT_SUCCESS, AUDIT_EQUAL, 1)
    for arch in _arches(machine):
        on_arch = RuleField(AUDIT_ARCH, AUDIT_EQUAL, arch.audit_arch)
        calls = arch.files
        by_mode_arg: dict[int, set[int]] = {}
        for number, mode_arg in calls.chmods:
            by_mode_arg.setdefault(mode_arg, set()).add(number)
        for mode_arg, numbers in sorted(by_mode_arg.items()):
            mode = RuleField(AUDIT_ARG0 + mode_arg, AUDIT_BIT_MASK, EXEC_BITS)
            rules.append(AuditRule(frozenset(numbers), (on_arch, under, mode, success, tag)))
        for number, flags_arg, mode_arg in calls.creates:
            conditions = [on_arch, under]
            if flags_arg is not None:
                conditions.append(RuleField(AUDIT_ARG0 + flags_arg, AUDIT_BIT_MASK, O_CREAT))
            conditions.append(RuleField(AUDIT_ARG0 + mode_arg, AUDIT_BIT_MASK, EXEC_BITS))
            rules.append(AuditRule(frozenset({number}), (*conditions, success, tag)))
        rules.append(AuditRule(frozenset(calls.moves), (on_arch, under, success, tag)))
    return rules


def ahead(rule: AuditRule) -> AuditRule:
    """`rule` put at the head of its list instead of the tail.

    The kernel logs a syscall with the key of the first rule that matches it, so a rule
    added earlier (an administrator's `-S execve -k exec`, or one a crashed run of someone
    else left) would otherwise take the agent's records under its own key, and the agent
    would skip them as not its own. No other audit daemon can run beside the agent, so
    coming first takes nothing from anyone.
    """
    return replace(rule, flags=rule.flags | AUDIT_FILTER_PREPEND)


def rules_with_key(sock: AuditSocket, key: str) -> list[AuditRule]:
    return [rule for rule in sock.list_rules() if key in rule.keys]


def remove_rules(sock: AuditSocket, key: str) -> int:
    """Delete every rule carrying `key`, as the kernel lists it; the number deleted."""
    removed = 0
    for rule in rules_with_key(sock, key):
        try:
            sock.delete_rule(rule)
        except AuditError as exc:
            if exc.errno != errno.ENOENT:  # gone already: someone else removed it
                raise
        else:
            removed += 1
    return removed


def install_rules(sock: AuditSocket, rules: list[AuditRule], key: str) -> int:
    """Add `rules` after removing any left by an earlier run that did not stop cleanly.

    On failure the rules added so far are removed again before the error is raised.
    """
    stale = remove_rules(sock, key)
    if stale:
        logger.warning("removed %s audit rules with key %s left by an earlier run", stale, key)
    try:
        for rule in rules:
            if key not in rule.keys:
                raise ValueError(f"rule for syscalls {sorted(rule.syscalls)} lacks key {key}")
            sock.add_rule(ahead(rule))
    except BaseException:
        remove_rules(sock, key)
        raise
    return len(rules)


def syscall_names(machine: str | None = None) -> dict[tuple[int, int], str]:
    """(audit arch, syscall number) to the syscall's name, for the syscalls the rules watch."""
    names: dict[tuple[int, int], str] = {}
    for arch in _arches(machine):
        names[(arch.audit_arch, arch.execve)] = "execve"
        names[(arch.audit_arch, arch.execveat)] = "execveat"
        names[(arch.audit_arch, arch.exit_group)] = "exit_group"
        names[(arch.audit_arch, arch.connect)] = "connect"
        for number in arch.accepts:
            names[(arch.audit_arch, number)] = "accept4" if number == arch.accepts[-1] else "accept"
        for number, name in arch.files.names.items():
            names.setdefault((arch.audit_arch, number), name)
    return names
