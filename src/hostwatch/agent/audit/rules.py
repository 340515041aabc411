"""The agent's own audit rules: which syscalls it watches, and adding and removing exactly those.

Audit rules are global to the kernel. Every rule the agent adds carries its key, and removal
lists the kernel's rules and deletes only those carrying that key, so rules an administrator
added (with auditctl or anything else) are never touched.
"""

from __future__ import annotations

import errno
import logging
import platform
from dataclasses import dataclass

from hostwatch.agent.audit.netlink import (
    AUDIT_ARCH,
    AUDIT_ARCH_AARCH64,
    AUDIT_ARCH_ARM,
    AUDIT_ARCH_I386,
    AUDIT_ARCH_X86_64,
    AUDIT_EQUAL,
    AUDIT_EXIT,
    AUDIT_SUCCESS,
    AuditError,
    AuditRule,
    AuditSocket,
    RuleField,
)

logger = logging.getLogger(__name__)

DEFAULT_KEY = "hostwatch-agent"
EINPROGRESS = 115


@dataclass(frozen=True)
class _Arch:
    audit_arch: int
    execve: int
    execveat: int
    exit_group: int
    connect: int
    accepts: tuple[int, ...]  # accept, then accept4 (i386 has only accept4)


# Syscall numbers from each architecture's syscall table (arch/*/entry/syscalls, and the
# generic table in include/uapi/asm-generic/unistd.h for arm64). i386 has no plain accept
# syscall, only accept4 and the multiplexed socketcall.
# Limitation: 32-bit programs that reach connect or accept through socketcall(2) (old i386
# libcs) are not seen; current glibc calls the direct syscalls.
_X86_64 = _Arch(AUDIT_ARCH_X86_64, 59, 322, 231, 42, (43, 288))
_I386 = _Arch(AUDIT_ARCH_I386, 11, 358, 252, 362, (364,))
_AARCH64 = _Arch(AUDIT_ARCH_AARCH64, 221, 281, 94, 203, (202, 242))
_ARM = _Arch(AUDIT_ARCH_ARM, 11, 387, 248, 283, (285, 366))
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
            sock.add_rule(rule)
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
    return names
