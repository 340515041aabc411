"""File events from inotify, the fallback without audit: what changed, and no process."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from hostwatch import protocol
from hostwatch.agent.inotify import NO_ATTRIBUTION, InotifyCollector
from hostwatch.agent.watched import Place


class _Got:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.items: list[protocol.AgentEvent] = []

    def add(self, events: list[protocol.AgentEvent]) -> None:
        with self.lock:
            self.items.extend(events)

    def wait(
        self, test: Callable[[protocol.AgentEvent], bool], count: int
    ) -> list[protocol.AgentEvent]:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with self.lock:
                found = [e for e in self.items if test(e)]
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"{len(found)} of {count} events within 10 s")


def test_inotify_reports_changes_in_watched_places_without_a_process(tmp_path: Path) -> None:
    cron = tmp_path / "cron.d"
    cron.mkdir()
    temp = tmp_path / "tmp"
    temp.mkdir()
    profile = tmp_path / "profile"
    places = [Place("cron", str(cron), True), Place("shell-profile", str(profile), False)]
    got = _Got()
    collector = InotifyCollector("m", places, exec_dirs=(str(temp),))
    collector.start(got.add)
    try:
        (cron / "job").write_text("* * * * * root true\n")
        (cron / "job").rename(cron / "job2")
        (cron / "job2").unlink()
        profile.write_text("export PATH=/evil:$PATH\n")
        (tmp_path / "unwatched").write_text("x")
        (temp / "notes.txt").write_text("not executable")
        dropped = temp / "dropper"
        dropped.write_bytes(b"\x7fELF" + b"\0" * 60)
        dropped.chmod(0o755)
        got.wait(lambda e: e.target_file == str(dropped), 1)  # a dropper stays to be run
        dropped.unlink()
        (temp / "notes.txt").unlink()
        got.wait(lambda e: e.action_type == "FileDeleted", 2)
        time.sleep(0.5)
    finally:
        collector.stop()

    seen = [(e.action_type, os.path.relpath(e.target_file or "", tmp_path)) for e in got.items]
    persisted = [item for item in seen if not item[1].startswith("tmp/")]
    assert persisted == [
        ("FileCreated", "cron.d/job"),
        ("FileModified", "cron.d/job"),
        ("FileRenamed", "cron.d/job2"),
        ("FileDeleted", "cron.d/job2"),
        ("FileCreated", "profile"),
        ("FileModified", "profile"),
    ]
    # The executable is checked when the event is read: the create and the write may come
    # before the chmod; the chmod (an attribute change) always finds it executable.
    dropper = [e for e in got.items if e.target_file == str(dropped)]
    assert ("FileModified", "tmp/dropper") in seen
    assert seen[-1] == ("FileDeleted", "tmp/dropper")
    assert all(e.fields["watch"] == "temp-executable" for e in dropper)
    assert dropper[0].fields["content"] == "elf"
    assert not [item for item in seen if item[1] == "tmp/notes.txt"]
    (renamed,) = [e for e in got.items if e.action_type == "FileRenamed"]
    assert renamed.fields["old_name"] == str(cron / "job")
    assert all(e.process_id is None and e.process_image is None for e in got.items)
    assert all(e.fields["attribution"] == NO_ATTRIBUTION for e in got.items)
    assert got.items[0].fields["watch"] == "cron"
