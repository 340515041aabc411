"""App restriction with real fanotify marks, on directories each test makes (never a mount).

Execs are tried from a process that is neither the test (which hosts the restriction, as the
agent would) nor its direct child, since the agent's own children are allowed.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import site
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import hostwatch
from hostwatch import protocol
from hostwatch.agent import packaged, restriction
from hostwatch.agent.packaged import PackageIndex
from hostwatch.agent.restriction import AppRestriction, Policy, RestrictionError

PYTHON = sys.executable
TRUE = os.path.realpath("/bin/true")
# Prints its pid and parent pid, then execs argv[1:]; exits 200 + errno when that is refused.
PROBE = (
    "import os, sys\n"
    "print(os.getpid(), os.getppid(), flush=True)\n"
    "try:\n"
    "    os.execv(sys.argv[1], sys.argv[1:])\n"
    "except OSError as exc:\n"
    "    sys.exit(200 + exc.errno)\n"
)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="fanotify permission marks need root")


def run_from_stranger(*argv: str) -> tuple[int, int]:
    """(0 or the errno of the refused exec, pid of the process that tried it)."""
    done = subprocess.run(
        ["/bin/sh", "-c", '"$@"; exit $?', "sh", PYTHON, "-c", PROBE, *argv],
        capture_output=True,
        text=True,
        timeout=60,
    )
    pid, ppid = (int(v) for v in done.stdout.split()[:2])
    assert ppid != os.getpid(), "the probe must not be the test process's own child"
    if done.returncode >= 200:
        return done.returncode - 200, pid
    assert done.returncode == 0, done.stderr
    return 0, pid


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def modified_copy(source: str, target: Path) -> Path:
    shutil.copyfile(source, target)
    with target.open("ab") as out:
        out.write(b"\0")  # one byte more: still runs, but is not the same program
    target.chmod(0o755)
    return target


def copy_of(source: str, target: Path) -> Path:
    shutil.copyfile(source, target)
    target.chmod(0o755)
    return target


class Blocked:
    def __init__(self) -> None:
        self.events: list[protocol.AgentEvent] = []

    def __call__(self, events: list[protocol.AgentEvent]) -> None:
        self.events.extend(events)

    def wait(self, count: int) -> list[protocol.AgentEvent]:
        deadline = time.monotonic() + 10
        while len(self.events) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self.events)


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Callable[..., AppRestriction]]:
    """Builds restrictions, and closes every one at the end, whatever the test did."""
    made: list[AppRestriction] = []

    def build(state: Path | None = None, **kwargs: object) -> AppRestriction:
        sink = kwargs.pop("sink", Blocked())
        restriction = AppRestriction(  # type: ignore[arg-type]
            state or tmp_path / "state", sink, **kwargs
        )
        made.append(restriction)
        return made[-1]

    try:
        yield build
    finally:
        for each in made:
            each.close()


@pytest.fixture
def scope(tmp_path: Path) -> Path:
    path = tmp_path / "scope"
    (path / "sub").mkdir(parents=True)
    return path


def test_restriction_allowed_hash_runs_and_modified_copy_gets_eperm(
    make: Callable[..., AppRestriction], scope: Path
) -> None:
    allowed = copy_of(TRUE, scope / "allowed")
    modified = modified_copy(TRUE, scope / "modified")
    deeper = modified_copy(TRUE, scope / "sub" / "deeper")
    params = protocol.RestrictParameters(scope=[str(scope)], allow_sha256=[sha256_of(allowed)])

    evidence = make().apply(params)

    assert run_from_stranger(str(allowed))[0] == 0
    assert run_from_stranger(str(modified))[0] == errno.EPERM
    assert run_from_stranger(str(deeper))[0] == errno.EPERM
    assert evidence["enforcing"] is True
    assert evidence["marked"] == [str(scope), str(scope / "sub")]
    assert evidence["fanotify_marks"] == 2
    assert evidence["package_files"] > 1000


def test_restriction_allowed_path_file_and_directory(
    make: Callable[..., AppRestriction], scope: Path
) -> None:
    by_file = copy_of(TRUE, scope / "by-file")
    by_dir = copy_of(TRUE, scope / "sub" / "by-dir")
    other = copy_of(TRUE, scope / "other")
    params = protocol.RestrictParameters(
        scope=[str(scope)], allow_paths=[str(by_file), str(scope / "sub")]
    )

    make().apply(params)

    assert run_from_stranger(str(by_file))[0] == 0
    assert run_from_stranger(str(by_dir))[0] == 0
    assert run_from_stranger(str(other))[0] == errno.EPERM


def test_restriction_shebang_script_is_checked_as_a_program(
    make: Callable[..., AppRestriction], scope: Path
) -> None:
    script = scope / "run.sh"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o755)
    allowed = scope / "sub" / "ok.sh"
    allowed.write_text("#!/bin/sh\nexit 0\n")
    allowed.chmod(0o755)

    make().apply(protocol.RestrictParameters(scope=[str(scope)], allow_paths=[str(allowed)]))

    assert run_from_stranger(str(script))[0] == errno.EPERM
    assert run_from_stranger(str(allowed))[0] == 0


def test_restriction_blocked_attempts_become_events(
    make: Callable[..., AppRestriction], scope: Path
) -> None:
    modified = modified_copy(TRUE, scope / "modified")
    blocked = Blocked()
    make(sink=blocked).apply(protocol.RestrictParameters(scope=[str(scope)]))

    _, first_pid = run_from_stranger(str(modified))
    _, second_pid = run_from_stranger(str(modified))
    events = blocked.wait(2)

    assert [e.process_id for e in events] == [first_pid, second_pid]
    event = events[0]
    assert (event.kind, event.action_type, event.event_code) == (
        "process",
        "ExecutionBlocked",
        "fanotify",
    )
    assert event.process_image == str(modified)
    assert event.target_file == str(modified)
    assert event.process_sha256 == sha256_of(modified)
    assert event.user == "root"
    assert event.fields["uid"] == 0
    assert event.fields["reason"] == "not installed by a package nor allowed"
    assert event.fields["requesting_image"] == os.path.realpath(PYTHON)
    assert str(modified) in event.fields["requesting_command_line"]
    assert events[0].key != events[1].key


def test_restriction_remove_restores_execution(
    make: Callable[..., AppRestriction], scope: Path, tmp_path: Path
) -> None:
    modified = modified_copy(TRUE, scope / "modified")
    restrict = make()
    restrict.apply(protocol.RestrictParameters(scope=[str(scope)]))
    refused = run_from_stranger(str(modified))[0]

    evidence = restrict.remove()

    assert refused == errno.EPERM
    assert run_from_stranger(str(modified))[0] == 0
    assert evidence == {
        "enforcing": False,
        "was_enforcing": True,
        "fanotify_groups_open": 0,
        "state_file_removed": True,
    }
    assert restrict.status() == (False, [])
    assert not (tmp_path / "state" / restriction.STATE_FILE).exists()


def test_restriction_restore_after_restart(
    make: Callable[..., AppRestriction], scope: Path, tmp_path: Path
) -> None:
    modified = modified_copy(TRUE, scope / "modified")
    before = make()
    before.apply(protocol.RestrictParameters(scope=[str(scope)], allow_paths=["/opt/tool"]))
    saved = tmp_path / "state" / restriction.STATE_FILE
    before.close()  # the agent stops: the kernel allows everything
    while_stopped = run_from_stranger(str(modified))[0]

    after = make()
    waiting = after.status()
    message = after.restore()

    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert json.loads(saved.read_text())["allow_paths"] == ["/opt/tool"]
    assert while_stopped == 0
    assert waiting == (False, ["a restriction is saved but not in force"])
    assert message is not None and message.startswith("restriction re-applied")
    assert run_from_stranger(str(modified))[0] == errno.EPERM
    assert after.status() == (True, [])


def test_restriction_restore_with_nothing_or_damage_saved(
    make: Callable[..., AppRestriction], tmp_path: Path
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    nothing = make(state).restore()
    (state / restriction.STATE_FILE).write_text('{"scope": 7}')

    damaged = make(state)
    message = damaged.restore()

    assert nothing is None
    assert message is not None and str(state / restriction.STATE_FILE) in message
    restricted, problems = damaged.status()
    assert restricted is False
    assert message in problems


@pytest.mark.parametrize(
    ("entry", "reason"),
    [("missing", "does not exist"), ("file", "is not a directory"), ("relative", "absolute")],
)
def test_restriction_bad_scope_is_refused_naming_it(
    make: Callable[..., AppRestriction], tmp_path: Path, entry: str, reason: str
) -> None:
    (tmp_path / "file").write_text("x")
    scope = {"missing": str(tmp_path / "missing"), "file": str(tmp_path / "file")}
    value = scope.get(entry, "relative/dir")
    restrict = make()

    with pytest.raises(RestrictionError) as raised:
        restrict.apply(protocol.RestrictParameters(scope=[value]))

    assert repr(value) in str(raised.value) and reason in str(raised.value)
    assert restrict.status() == (False, [])
    assert not (tmp_path / "state" / restriction.STATE_FILE).exists()
    assert restriction._fanotify_fds() == 0


def test_restriction_status_reads_marks_back_from_the_kernel(
    make: Callable[..., AppRestriction], scope: Path
) -> None:
    restrict = make()
    restrict.apply(protocol.RestrictParameters(scope=[str(scope)]))
    whole = restrict.status()

    (scope / "sub").rmdir()  # the kernel drops the mark of a deleted directory
    restricted, problems = restrict.status()

    assert whole == (True, [])
    assert restricted is True
    assert problems == [f"1 of 2 fanotify marks missing, e.g. {scope / 'sub'}"]


def test_restriction_new_subdirectory_is_marked_on_rescan(
    make: Callable[..., AppRestriction], scope: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(restriction, "RESCAN_SECONDS", 0.2)
    make().apply(protocol.RestrictParameters(scope=[str(scope)]))
    (scope / "new").mkdir()
    modified = modified_copy(TRUE, scope / "new" / "modified")

    deadline = time.monotonic() + 10
    result = run_from_stranger(str(modified))[0]
    while result == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
        result = run_from_stranger(str(modified))[0]

    assert result == errno.EPERM


class _BrokenIndex(PackageIndex):
    """A package database that fails on lookup: the only way to reach the error branch."""

    def expected_md5(self, path: str) -> bytes | None:
        raise OSError(errno.EIO, "package database unreadable")


def test_restriction_fails_open_on_an_internal_error(
    make: Callable[..., AppRestriction], scope: Path
) -> None:
    modified = modified_copy(TRUE, scope / "modified")
    restrict = make(packages=_BrokenIndex())
    restrict.apply(protocol.RestrictParameters(scope=[str(scope)]))

    result = run_from_stranger(str(modified))[0]
    restricted, problems = restrict.status()

    assert result == 0
    assert restricted is True
    assert problems == [
        "allowed an exec after an internal error: [Errno 5] package database unreadable"
    ]


def test_restriction_empty_scope_plans_every_local_filesystem() -> None:
    # Planned only: tests never mark a whole filesystem.
    roots, mode = restriction.plan_scope([])

    kinds = {root.kind for root in roots}
    points = [root.path for root in roots]
    assert mode == "every local filesystem"
    assert kinds == {"filesystem"}
    assert "/" in points
    assert not {"/proc", "/sys", "/dev/pts"} & set(points)
    assert len({os.stat(p).st_dev for p in points}) == len(points)


# The package database


def _md5(path: str | Path) -> str:
    return hashlib.md5(Path(path).read_bytes(), usedforsecurity=False).hexdigest()


def test_package_index_reads_the_real_dpkg_database() -> None:
    index = PackageIndex()

    size = index.ensure_loaded()

    assert size > 1000
    assert index.expected_md5("/usr/bin/true") == bytes.fromhex(_md5("/usr/bin/true"))
    # Merged /usr: dpkg may list either spelling; both reach the same file.
    assert index.expected_md5("/bin/true") == index.expected_md5("/usr/bin/true")
    assert index.expected_md5("/usr/bin/no-such-program-here") is None


def test_policy_with_the_real_dpkg_database(tmp_path: Path) -> None:
    policy = Policy(protocol.RestrictParameters(), PackageIndex(), frozenset())
    copy = copy_of("/usr/bin/true", tmp_path / "true")

    def check(path: str | Path) -> restriction.Verdict:
        fd = os.open(path, os.O_RDONLY)
        try:
            return policy.check(fd)
        finally:
            os.close(fd)

    packaged = check("/usr/bin/true")
    unowned = check(copy)

    assert (packaged.allowed, packaged.reason) == (True, "installed by a package, unmodified")
    assert (unowned.allowed, unowned.reason) == (False, "not installed by a package nor allowed")
    assert unowned.sha256 == sha256_of(copy)


def test_restriction_package_file_runs_until_its_content_changes(
    make: Callable[..., AppRestriction], scope: Path, tmp_path: Path
) -> None:
    # A dpkg database in dpkg's own format that owns one file of the test directory.
    tool = copy_of(TRUE, scope / "tool")
    dpkg = tmp_path / "dpkg"
    (dpkg / "info").mkdir(parents=True)
    (dpkg / "status").write_text("Package: tool\nStatus: install ok installed\n\n")
    (dpkg / "info" / "tool:amd64.md5sums").write_text(f"{_md5(tool)}  {str(tool)[1:]}\n")
    unowned = copy_of(TRUE, scope / "unowned")
    blocked = Blocked()
    make(packages=PackageIndex(dpkg), sink=blocked).apply(
        protocol.RestrictParameters(scope=[str(scope)])
    )

    runs = run_from_stranger(str(tool))[0]
    refused_unowned = run_from_stranger(str(unowned))[0]
    with tool.open("ab") as out:
        out.write(b"\0")
    refused_changed = run_from_stranger(str(tool))[0]

    assert (runs, refused_unowned, refused_changed) == (0, errno.EPERM, errno.EPERM)
    reasons = [e.fields["reason"] for e in blocked.wait(2)]
    assert reasons == [
        "not installed by a package nor allowed",
        "changed since its package installed it",
    ]


def test_restriction_package_upgrade_is_allowed_once_dpkg_records_it(
    make: Callable[..., AppRestriction],
    scope: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(packaged, "RECHECK_SECONDS", 0.0)
    tool = copy_of(TRUE, scope / "tool")
    dpkg = tmp_path / "dpkg"
    (dpkg / "info").mkdir(parents=True)
    (dpkg / "status").write_text("Package: tool\nStatus: install ok installed\n\n")
    md5sums = dpkg / "info" / "tool.md5sums"
    md5sums.write_text(f"{_md5(tool)}  {str(tool)[1:]}\n")
    index = PackageIndex(dpkg)
    make(packages=index).apply(protocol.RestrictParameters(scope=[str(scope)]))
    loaded = index.generation

    modified_copy(TRUE, tool)  # the new version is unpacked ...
    before = run_from_stranger(str(tool))[0]
    md5sums.write_text(f"{_md5(tool)}  {str(tool)[1:]}\n")  # ... then dpkg records it
    os.utime(dpkg / "info", ns=(time.time_ns(), time.time_ns() + 10**9))
    deadline = time.monotonic() + 10
    after = run_from_stranger(str(tool))[0]
    while after != 0 and time.monotonic() < deadline:
        time.sleep(0.1)
        after = run_from_stranger(str(tool))[0]

    assert (before, after) == (errno.EPERM, 0)
    assert index.generation > loaded


def test_restriction_empty_scope_without_dpkg_is_refused(
    make: Callable[..., AppRestriction], tmp_path: Path
) -> None:
    restrict = make(packages=PackageIndex(tmp_path / "no-dpkg"))

    with pytest.raises(RestrictionError, match="no dpkg database"):
        restrict.apply(protocol.RestrictParameters())

    assert restriction._fanotify_fds() == 0


# The agent itself

AGENT = r"""
import json, subprocess, sys
from pathlib import Path
from hostwatch import protocol
from hostwatch.agent.restriction import AppRestriction

scope, state, other = sys.argv[1:4]
restrict = AppRestriction(Path(state), lambda events: None)
try:
    evidence = restrict.apply(protocol.RestrictParameters(scope=[scope]))
    print(json.dumps({"agent_files": evidence["agent_files"]}), flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "self":
            done = subprocess.run(
                [sys.executable, "-c", "print(6 * 7)"], capture_output=True, text=True
            )
            reply = {"rc": done.returncode, "out": done.stdout.strip()}
        elif command == "other":
            reply = {"rc": subprocess.run([other]).returncode}
        elif command == "status":
            restricted, problems = restrict.status()
            reply = {"restricted": restricted, "problems": problems}
        else:
            break
        print(json.dumps(reply), flush=True)
finally:
    restrict.close()
"""


def test_agent_cannot_lock_itself_out(tmp_path: Path) -> None:
    # An agent whose interpreter (a copy of this one) lives in the restricted directory.
    bin_dir = tmp_path / "agentenv" / "bin"
    bin_dir.mkdir(parents=True)
    interpreter = copy_of(os.path.realpath(PYTHON), bin_dir / "python")
    other = copy_of(TRUE, bin_dir / "other")
    env = dict(os.environ)
    env["PYTHONHOME"] = sys.base_prefix
    env["PYTHONPATH"] = os.pathsep.join(
        [str(Path(hostwatch.__file__).parents[1]), *site.getsitepackages()]
    )
    agent = subprocess.Popen(
        [str(interpreter), "-c", AGENT, str(bin_dir), str(tmp_path / "state"), str(other)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert agent.stdin is not None and agent.stdout is not None

    def ask(command: str) -> dict[str, object]:
        agent.stdin.write(command + "\n")  # type: ignore[union-attr]
        agent.stdin.flush()  # type: ignore[union-attr]
        reply: dict[str, object] = json.loads(agent.stdout.readline())  # type: ignore[union-attr]
        return reply

    try:
        ready = json.loads(agent.stdout.readline())
        stranger_runs_agent = run_from_stranger(str(interpreter), "-c", "pass")[0]
        stranger_runs_other = run_from_stranger(str(other))[0]
        agent_runs_itself = ask("self")
        agent_runs_other = ask("other")
        status = ask("status")
    finally:
        agent.kill()  # closes its fanotify group, whatever happened above
        agent.wait(30)

    assert str(interpreter) in ready["agent_files"]
    assert stranger_runs_agent == 0
    assert stranger_runs_other == errno.EPERM  # the directory is restricted for others
    assert agent_runs_itself == {"rc": 0, "out": "42"}
    assert agent_runs_other == {"rc": 0}
    assert status == {"restricted": True, "problems": []}
    assert run_from_stranger(str(other))[0] == 0  # the agent gone, its group closed


def test_restriction_refuses_a_relative_allowed_path(
    make: Callable[..., AppRestriction], scope: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """'' or 'x' would resolve against the agent's working directory: '' allowed all of it."""
    modified = modified_copy(TRUE, scope / "modified")
    monkeypatch.chdir(scope)
    restricted = make()

    for raw in ("", "modified", "sub/../modified"):
        params = protocol.RestrictParameters(scope=[str(scope)], allow_paths=[raw])
        with pytest.raises(RestrictionError, match=f"^allow_paths: {raw!r} is not an absolute"):
            restricted.apply(params)

    assert restricted.status() == (False, [])
    assert not restricted.state_file.exists()
    assert run_from_stranger(str(modified))[0] == 0


def test_restriction_evidence_stays_under_the_servers_limit_with_many_allowed_paths(
    make: Callable[..., AppRestriction], scope: Path
) -> None:
    """The most allowed paths a request may carry, long ones: the success report must still be
    taken, or the action stays running on the server."""
    from hostwatch.response.service import MAX_EVIDENCE_BYTES

    paths = [str(scope / f"{'p' * 200}-{i:04d}") for i in range(1_000)]
    params = protocol.RestrictParameters(scope=[str(scope)], allow_paths=paths)

    evidence = make().apply(params)

    assert len(json.dumps(evidence, separators=(",", ":")).encode()) <= MAX_EVIDENCE_BYTES
    assert evidence["allowed_path_count"] == 1_000
    assert evidence["allowed_paths"] == sorted(paths)[:50]
