"""Restrict app execution: the kernel refuses to start any program that is not allowed.

Allowed are files the OS's packages installed with their content unchanged (dpkg's md5sums),
files an admin allowed by sha256 or path, and the agent itself (its interpreter and entry
scripts, and the programs its own child processes start). fanotify permission events on
executable opens (FAN_OPEN_EXEC_PERM) make the kernel wait for our answer; anything else is
answered FAN_DENY and the exec fails with EPERM.

Scope: each directory listed is marked with its subdirectories (inode marks, FAN_EVENT_ON_CHILD);
a listed mount point gets a mount mark (FAN_MARK_MOUNT); an empty scope marks every local
filesystem of /proc/self/mountinfo as a whole (FAN_MARK_FILESYSTEM, which also covers its bind
mounts), leaving out kernel pseudo filesystems and network filesystems.

The answer loop never holds the system up: it answers every event, allows events of the agent's
own process at once, and allows (fails open) on any internal error, which status() reports.

Scripts started directly (`./x.sh`) are checked like programs: the kernel opens them for exec
and then their `#!` interpreter, and both must be allowed. A script given to its interpreter
(`python x.py`) is not: see the Limitation at MASK.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import pwd
import queue
import select
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from hostwatch import protocol
from hostwatch.agent import fanotify
from hostwatch.agent.bounds import LONG, PATH, clean
from hostwatch.agent.packaged import PackageIndex
from hostwatch.agent.processes import command_line, read_boot_id

logger = logging.getLogger(__name__)

STATE_FILE = "restriction.json"
RESCAN_SECONDS = 5.0  # how often directory scopes are walked for new subdirectories
MAX_DIRECTORY_MARKS = 20_000
MAX_CACHED_VERDICTS = 65_536
MAX_QUEUED_EVENTS = 10_000
MAX_PROBLEMS = 16
EVIDENCE_PATHS = 50  # allowed paths named in the evidence (all are counted)
EVENT_BATCH = 200
ACTION_TYPE = "ExecutionBlocked"
# Limitation: a script run as an argument of an allowed interpreter (`python x.py`, `sh x.sh`,
# `bash < x.sh`) is not refused: the interpreter opens it for reading, not for exec. Covering
# it would need FAN_OPEN_PERM on every open, which puts each file open on the machine through
# this loop; the interpreter itself must still be allowed.
# Limitation: the dynamic loader run as a program (`/lib64/ld-linux-x86-64.so.2 ./prog`) is
# a packaged file and starts; it then maps ./prog with plain opens and mmap, which raise no
# exec event, so any program (or library, with LD_PRELOAD) runs that way. Mounting the
# writable places noexec stops it (the loader cannot map code from a noexec mount).
# Limitation: a program written into a memfd (memfd_create, then fexecve or exec of
# /proc/self/fd/N) lives on the kernel's internal shmem mount, which fanotify cannot mark, so
# it starts unchecked. The sysctl vm.memfd_noexec=2 (Linux 6.3+) refuses executable memfds.
MASK = fanotify.FAN_OPEN_EXEC_PERM

Sink = Callable[[list[protocol.AgentEvent]], None]


class RestrictionError(Exception):
    """The restriction cannot be applied; the message is the reason shown to the analyst."""


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reason: str
    path: str
    sha256: str | None = None


def agent_files() -> frozenset[str]:
    """The files that start the agent: its interpreter, and its entry scripts (a `#!` script
    is opened for exec too)."""
    found: set[str] = set()
    for value in (sys.executable, getattr(sys, "_base_executable", None)):
        if value:
            found.add(os.path.realpath(value))
    bin_dir = Path(sys.prefix) / "bin"
    for name in ("hostwatch", "hostwatch-agent"):
        if (bin_dir / name).is_file():
            found.add(os.path.realpath(bin_dir / name))
    if sys.argv and sys.argv[0] and os.path.isfile(sys.argv[0]):
        found.add(os.path.realpath(sys.argv[0]))
    return frozenset(found)


def _digest(fd: int, name: str) -> str:
    hasher = hashlib.new(name, usedforsecurity=False) if name == "md5" else hashlib.new(name)
    offset = 0
    while chunk := os.pread(fd, 1 << 20, offset):
        hasher.update(chunk)
        offset += len(chunk)
    return hasher.hexdigest()


class Policy:
    """Decides whether one opened file may be executed; verdicts are cached by the file's
    identity and change stamps, so repeated execs of a program cost two system calls."""

    def __init__(
        self,
        params: protocol.RestrictParameters,
        packages: PackageIndex,
        agent: frozenset[str],
    ) -> None:
        self.packages = packages
        self.agent = agent
        self.allow_sha256 = frozenset(params.allow_sha256)
        files: set[str] = set()
        dirs: list[str] = []
        for raw in params.allow_paths:
            path = os.path.realpath(raw)
            if os.path.isdir(path):
                dirs.append(path.rstrip("/") + "/")
            else:
                files.update({raw, path})
        self.allow_files = frozenset(files)
        self.allow_dirs = tuple(dirs)
        self._cache: dict[tuple[Any, ...], Verdict] = {}
        self._generation = -1

    def check(self, fd: int) -> Verdict:
        path = os.readlink(f"/proc/self/fd/{fd}")
        st = os.fstat(fd)
        self.packages.refresh()
        if self.packages.generation != self._generation:
            self._cache.clear()  # dpkg installed or removed something
            self._generation = self.packages.generation
        # ctime too: mtime can be set back by anyone who can write the file, ctime cannot.
        # Limitation: the key trusts ctime to change with the content. With Linux 6.13+
        # multigrain timestamps (ext4, xfs, btrfs, tmpfs) it does, since our fstat asks for
        # it (300 same-size rewrites between execs, each refused, ext4 on 6.18); with coarse
        # timestamps a same-size rewrite in the clock tick after an allowed exec reuses that
        # verdict.
        key = (path, st.st_dev, st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size)
        verdict = self._cache.get(key)
        if verdict is None:
            verdict = self._decide(fd, path)
            if len(self._cache) >= MAX_CACHED_VERDICTS:
                self._cache.clear()
            self._cache[key] = verdict
        return verdict

    def _decide(self, fd: int, path: str) -> Verdict:
        if path in self.agent:
            return Verdict(True, "the agent", path)
        # A path allowance trusts the path, not the content: whoever can write an allowed
        # file (or into an allowed directory) can run anything through it. A symlink to it
        # runs (the kernel opens the target); a hard link elsewhere does not (its own path).
        if path in self.allow_files or path.startswith(self.allow_dirs):
            return Verdict(True, "allowed path", path)
        expected = self.packages.expected_md5(path) if self.packages.available else None
        reason = "not installed by a package nor allowed"
        if expected is not None:
            md5 = bytes.fromhex(_digest(fd, "md5"))
            if md5 == expected or (isinstance(expected, tuple) and md5 in expected):
                return Verdict(True, "installed by a package, unmodified", path)
            reason = "changed since its package installed it"
        # Limitation: a process that opened the file for writing before this check can still
        # change it between the check and the kernel's deny-write on exec (microseconds).
        sha256 = _digest(fd, "sha256")
        if sha256 in self.allow_sha256:
            return Verdict(True, "allowed sha256", path, sha256)
        return Verdict(False, reason, path, sha256)


@dataclass(frozen=True)
class _Root:
    path: str
    kind: str  # fanotify.INODE (the directory tree), MOUNT or FILESYSTEM


def plan_scope(scope: list[str]) -> tuple[list[_Root], str]:
    """What to mark for a scope, and how to describe it; a bad entry raises naming it."""
    mounts = fanotify.read_mounts()
    if not scope:
        roots = [
            _Root(m.mount_point, fanotify.FILESYSTEM) for m in fanotify.local_filesystems(mounts)
        ]
        return roots, "every local filesystem"
    mount_points = {m.mount_point for m in mounts}
    roots = []
    for entry in scope:
        if not os.path.isabs(entry):
            raise RestrictionError(f"scope {entry!r} is not an absolute path")
        path = os.path.realpath(entry)
        if not os.path.exists(path):
            raise RestrictionError(f"scope {entry!r} does not exist")
        if not os.path.isdir(path):
            raise RestrictionError(f"scope {entry!r} is not a directory")
        kind = fanotify.MOUNT if path in mount_points else fanotify.INODE
        roots.append(_Root(path, kind))
    return roots, "listed directories"


def _subdirectories(root: str, limit: int) -> list[tuple[str, os.stat_result]]:
    """The root and the directories below it on the same filesystem, at most `limit`."""
    try:
        top = os.stat(root)
    except OSError:
        return []
    found = [(root, top)]
    pending = [root]
    while pending and len(found) < limit:
        try:
            entries = list(os.scandir(pending.pop()))
        except OSError:
            continue
        for entry in entries:
            try:
                if not entry.is_dir(follow_symlinks=False):
                    continue
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if st.st_dev == top.st_dev and len(found) < limit:
                found.append((entry.path, st))
                pending.append(entry.path)
    return found


class _Enforcer:
    """One fanotify group with its marks and the thread that answers its events."""

    def __init__(self, roots: list[_Root], policy: Policy, owner: AppRestriction) -> None:
        self.roots = roots
        self.policy = policy
        self.owner = owner
        self.expected: dict[tuple[str, int, int], str] = {}
        self.truncated: list[str] = []
        self._stop = threading.Event()
        self._wake_r, self._wake_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        try:
            self.group = fanotify.PermissionGroup()
        except OSError:
            os.close(self._wake_r)
            os.close(self._wake_w)
            raise
        self._thread = threading.Thread(target=self._run, name="hostwatch-restrict", daemon=True)
        self._pid = os.getpid()
        self._interpreters = frozenset(
            os.path.realpath(p)
            for p in (sys.executable, getattr(sys, "_base_executable", None))
            if p
        )
        self.fail_open = 0

    # Marks

    def mark_all(self) -> None:
        mounts = {m.mount_point: m for m in fanotify.read_mounts()}
        for root in self.roots:
            if root.kind == fanotify.INODE:
                self._mark_tree(root.path)
                continue
            mount = mounts.get(root.path)
            if mount is None:
                raise RestrictionError(f"scope {root.path!r} is no longer a mount point")
            self.group.mark(root.path, root.kind, MASK)
            if root.kind == fanotify.MOUNT:
                self.expected[(fanotify.MOUNT, mount.mount_id, 0)] = root.path
            else:
                key = (fanotify.FILESYSTEM, fanotify.kernel_dev(mount.device), 0)
                self.expected[key] = root.path

    def _mark_tree(self, root: str) -> None:
        room = MAX_DIRECTORY_MARKS - len(self.expected) + 1
        found = _subdirectories(root, room)
        if len(found) >= room and root not in self.truncated:
            self.truncated.append(root)
        for path, st in found:
            key = (fanotify.INODE, fanotify.kernel_dev(st.st_dev), st.st_ino)
            if key in self.expected:
                continue
            try:
                self.group.mark(path, fanotify.INODE, MASK)
            except fanotify.FanotifyError as exc:
                if path == root:
                    raise
                logger.debug("cannot mark %s: %s", path, exc)  # removed while we walked
                continue
            self.expected[key] = path

    def rescan(self) -> None:
        """Marks directories made since the last walk, forgets those that went away."""
        # Limitation: a subdirectory made in a directory scope is unrestricted until the next
        # walk (RESCAN_SECONDS); mount points and every-filesystem scopes have no such gap.
        for key, path in list(self.expected.items()):
            if key[0] == fanotify.INODE:
                try:
                    st = os.stat(path)
                    gone = (fanotify.kernel_dev(st.st_dev), st.st_ino) != key[1:]
                except OSError:
                    gone = True
                if gone:
                    del self.expected[key]
        for root in self.roots:
            if root.kind == fanotify.INODE:
                self._mark_tree(root.path)

    def missing(self) -> list[str]:
        present = {
            fanotify.mark_key(m)
            for m in self.group.marks()
            if m.get("mask", 0) & fanotify.FAN_OPEN_EXEC_PERM
        }
        return [path for key, path in self.expected.items() if key not in present]

    # Answering

    def start(self) -> None:
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and not self.group.closed

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(5.0)
        self.group.close()
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    def _run(self) -> None:
        # Limitation: the loop shares the interpreter lock with the agent's other threads; an
        # exec may wait for a busy collector up to Python's switch interval (5 ms).
        poller = select.poll()
        poller.register(self.group.fd, select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        scanned = time.monotonic()
        try:
            while not self._stop.is_set():
                poller.poll(RESCAN_SECONDS * 1000)
                if self._stop.is_set():
                    break
                for event in self.group.read():
                    self._answer(event)
                if time.monotonic() - scanned >= RESCAN_SECONDS:
                    scanned = time.monotonic()
                    self.rescan()
        except Exception as exc:
            logger.exception("app restriction stopped answering")
            self.owner._problem(
                f"enforcement stopped after an error ({type(exc).__name__}): "
                "execution is not restricted"
            )
        finally:
            if not self._stop.is_set():
                # Fail open: with the group closed the kernel allows everything again.
                self.group.close()

    def _answer(self, event: fanotify.Event) -> None:
        if event.fd == fanotify.FAN_NOFD:  # queue overflow: nothing to answer
            return
        allow = True
        try:
            if event.pid != self._pid:
                verdict = self.policy.check(event.fd)
                if not verdict.allowed and not self._from_agent(event.pid):
                    allow = False
                    self.owner._blocked(event.pid, verdict)
        except Exception as exc:
            self.fail_open += 1
            logger.debug("exec by pid %s allowed after an error", event.pid, exc_info=True)
            self.owner._problem(f"allowed an exec after an internal error: {exc}")
        finally:
            try:
                self.group.respond(event.fd, allow)
            except OSError as exc:
                logger.warning("cannot answer fanotify event of pid %s: %s", event.pid, exc)
            os.close(event.fd)

    def _from_agent(self, pid: int) -> bool:
        """A child the agent forked that has not exec'd yet (the agent's own subprocesses)."""
        info = _read_status(pid)
        if info.get("PPid") != str(self._pid):
            return False
        try:
            return os.readlink(f"/proc/{pid}/exe") in self._interpreters
        except OSError:
            return False


def _read_status(pid: int) -> dict[str, str]:
    try:
        text = Path(f"/proc/{pid}/status").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    found = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        found[key] = value.strip()
    return found


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


class AppRestriction:
    """The restrict-app-execution executor of the agent (see the module docstring)."""

    def __init__(
        self,
        state_dir: Path,
        on_blocked: Sink,
        *,
        packages: PackageIndex | None = None,
        machine_id: str | None = None,
    ) -> None:
        self.state_dir = state_dir
        self.on_blocked = on_blocked
        self.packages = packages if packages is not None else PackageIndex()
        self.machine_id = machine_id or ""
        self._boot_id = read_boot_id()
        self._lock = threading.Lock()
        self._enforcer: _Enforcer | None = None
        self._params: protocol.RestrictParameters | None = None
        self._mode = ""
        self._problems: list[str] = []
        self._queue: queue.Queue[protocol.AgentEvent] = queue.Queue(MAX_QUEUED_EVENTS)
        self._serial = 0
        self.dropped_events = 0
        self._sender = threading.Thread(target=self._send, name="hostwatch-blocked", daemon=True)
        self._sender.start()

    @property
    def state_file(self) -> Path:
        return self.state_dir / STATE_FILE

    # The executor's verbs

    def apply(self, params: protocol.RestrictParameters) -> dict[str, Any]:
        """Starts enforcing `params` (replacing what was enforced before) and persists them."""
        for raw in params.allow_paths:
            # realpath would resolve it against the agent's working directory ('' to the
            # directory itself, '/' for a service), allowing everything below it.
            if not os.path.isabs(raw):
                raise RestrictionError(f"allow_paths: {raw!r} is not an absolute path")
        roots, mode = plan_scope(list(params.scope))
        if not roots:
            raise RestrictionError("no filesystem to restrict: /proc/self/mountinfo lists none")
        if not self.packages.available and not params.scope:
            raise RestrictionError(
                f"no dpkg database at {self.packages.dpkg_dir}: restricting every filesystem "
                "would refuse the system's own programs; list a scope or allowed hashes"
            )
        packaged = self.packages.ensure_loaded() if self.packages.available else 0
        agent = agent_files()
        policy = Policy(params, self.packages, agent)
        try:
            enforcer = _Enforcer(roots, policy, self)
        except OSError as exc:
            raise RestrictionError(f"cannot start fanotify: {exc.strerror or exc}") from exc
        try:
            enforcer.mark_all()
        except (OSError, RestrictionError) as exc:
            enforcer.stop()
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise RestrictionError(f"cannot mark the scope for fanotify: {reason}") from exc
        enforcer.start()
        with self._lock:
            old, self._enforcer = self._enforcer, enforcer
            self._params, self._mode = params, mode
            self._problems = []
        if old is not None:
            old.stop()
        if enforcer.truncated:
            self._problem(
                f"more than {MAX_DIRECTORY_MARKS} directories in scope: only the first are "
                f"restricted below {', '.join(enforcer.truncated)}"
            )
        self._persist(params)
        restricted, problems = self.status()
        allowed = sorted(policy.allow_files) + list(policy.allow_dirs)
        logger.info("app execution restricted on %s: %s marks", mode, len(enforcer.expected))
        return {
            "enforcing": restricted,
            "mechanism": "fanotify FAN_OPEN_EXEC_PERM, FAN_DENY",
            "scope_mode": mode,
            "scope": [r.path for r in roots],
            "fanotify_marks": len(enforcer.group.marks()),
            "marked": sorted(enforcer.expected.values())[:50],
            "package_files": packaged,
            "allowed_sha256": len(policy.allow_sha256),
            # At most EVIDENCE_PATHS: 1,000 allowed paths (each kept as given and resolved)
            # made evidence past the server's limit, which refused the success report and
            # left the action running.
            "allowed_paths": allowed[:EVIDENCE_PATHS],
            "allowed_path_count": len(allowed),
            "agent_files": sorted(agent),
            "state_file": str(self.state_file),
            "problems": problems,
        }

    def remove(self) -> dict[str, Any]:
        """Stops enforcing and forgets the persisted restriction: normal execution again."""
        with self._lock:
            enforcer, self._enforcer = self._enforcer, None
            self._params = None
            self._problems = []
        was = enforcer is not None
        if enforcer is not None:
            enforcer.stop()
        self.state_file.unlink(missing_ok=True)
        logger.info("app execution restriction removed")
        return {
            "enforcing": False,
            "was_enforcing": was,
            "fanotify_groups_open": _fanotify_fds(),
            "state_file_removed": not self.state_file.exists(),
        }

    def status(self) -> tuple[bool, list[str]]:
        """(restricted, problems), read from the kernel's marks and the answering thread."""
        with self._lock:
            enforcer = self._enforcer
            problems = list(self._problems)
        if enforcer is None:
            if self.state_file.exists():
                problems.append("a restriction is saved but not in force")
            return False, problems[:MAX_PROBLEMS]
        if not enforcer.alive:
            problems.append("the fanotify listener is not running: execution is not restricted")
            return False, problems[:MAX_PROBLEMS]
        try:
            missing = enforcer.missing()
        except OSError as exc:
            problems.append(f"cannot read the fanotify marks back: {exc}")
            return False, problems[:MAX_PROBLEMS]
        if missing:
            problems.append(
                f"{len(missing)} of {len(enforcer.expected)} fanotify marks missing, "
                f"e.g. {missing[0]}"
            )
        if self.dropped_events:
            problems.append(f"{self.dropped_events} blocked-execution events dropped")
        restricted = len(missing) < len(enforcer.expected)
        return restricted, problems[:MAX_PROBLEMS]

    def restore(self) -> str | None:
        """On agent start: re-applies a persisted restriction. None when there is none; else
        what happened, also when it failed (then status() says so too)."""
        try:
            raw = self.state_file.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            message = f"cannot read saved restriction {self.state_file}: {exc.strerror}"
            self._problem(message)
            return message
        try:
            params = protocol.RestrictParameters.model_validate_json(raw)
        except ValidationError as exc:
            message = f"saved restriction {self.state_file} is damaged ({exc.error_count()} errors)"
            self._problem(message)
            return message
        try:
            evidence = self.apply(params)
        except RestrictionError as exc:
            message = f"saved restriction could not be re-applied: {exc}"
            self._problem(message)
            return message
        return (
            f"restriction re-applied on {evidence['scope_mode']} "
            f"({len(evidence['scope'])} places, {evidence['fanotify_marks']} fanotify marks)"
        )

    def close(self) -> None:
        """On agent stop: releases the fanotify group (the kernel then allows everything);
        the persisted restriction stays for restore()."""
        # Limitation: nothing is restricted while the agent is stopped (a fanotify permission
        # mark needs a listener); restore() re-applies it when the agent starts.
        with self._lock:
            enforcer, self._enforcer = self._enforcer, None
        if enforcer is not None:
            enforcer.stop()

    # Internals

    def _problem(self, message: str) -> None:
        with self._lock:
            if message not in self._problems:
                self._problems = [*self._problems, message][-MAX_PROBLEMS:]

    def _persist(self, params: protocol.RestrictParameters) -> None:
        self.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = self.state_dir / f".{STATE_FILE}.tmp"
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, params.model_dump_json().encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.state_file)
        dir_fd = os.open(self.state_dir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def _blocked(self, pid: int, verdict: Verdict) -> None:
        """Called from the answering loop: builds the event and queues it, never waits."""
        status = _read_status(pid)
        uid = status.get("Uid", "").split()
        try:
            exe: str | None = os.readlink(f"/proc/{pid}/exe")
        except OSError:
            exe = None
        try:
            raw_argv = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0")
            command = command_line(
                [os.fsdecode(a) for a in raw_argv.split(b"\0")] if raw_argv else None
            )
        except OSError:
            command = None
        self._serial += 1
        raw = f"restrict:{self.machine_id}:{self._boot_id}:{pid}:{time.time_ns()}:{self._serial}"
        user = _user_name(int(uid[0])) if uid and uid[0].isdigit() else None
        ppid = status.get("PPid", "")
        event = protocol.AgentEvent(
            key=hashlib.sha256(raw.encode("utf-8", "surrogateescape")).hexdigest(),
            time=datetime.now(UTC),
            kind="process",
            action_type=ACTION_TYPE,
            event_code="fanotify",
            user=clean(user),
            process_id=pid,
            process_image=clean(verdict.path, PATH),
            process_sha256=verdict.sha256,
            parent_process_id=int(ppid) if ppid.isdigit() else None,
            target_file=clean(verdict.path, PATH),
            fields={
                "collector": "fanotify",
                "reason": verdict.reason,
                # The process that asked, before the exec that was refused.
                "requesting_image": clean(exe, PATH),
                "requesting_command_line": clean(command, LONG),
                "uid": int(uid[0]) if uid and uid[0].isdigit() else None,
            },
        )
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self.dropped_events += 1

    def _send(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < EVENT_BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self.on_blocked(batch)
            except Exception:
                logger.exception("cannot hand over %s blocked-execution events", len(batch))


def _fanotify_fds() -> int:
    """fanotify groups this process holds open, read from /proc/self/fd."""
    count = 0
    for name in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{name}") == "anon_inode:[fanotify]":
                count += 1
        except OSError:
            pass
    return count
