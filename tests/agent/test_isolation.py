"""Device isolation with real nftables, inside two network namespaces the tests create.

Namespace A is the device, B holds the Hostwatch server and another service, joined by a veth
pair on a private subnet. Every nft command runs inside A or B, never in this host's own
namespace. Skipped only without root or `ip netns`; a missing nft fails.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import hostwatch
from hostwatch import protocol
from hostwatch.agent.isolation import (
    TABLE,
    Isolation,
    IsolationError,
    _cgroup2_mount,
    server_endpoints,
    system_resolvers,
    url_needs_dns,
)


def _netns_unavailable() -> str | None:
    if os.geteuid() != 0:
        return "network namespaces need root"
    ip = shutil.which("ip")
    if ip is None or shutil.which("nsenter") is None:
        return "iproute2's ip or util-linux's nsenter is not installed"
    if subprocess.run([ip, "netns", "list"], capture_output=True, check=False).returncode:
        return "`ip netns` does not work here"
    return None


needs_netns = pytest.mark.skipif(_netns_unavailable() is not None, reason=str(_netns_unavailable()))

SRC = str(Path(hostwatch.__file__).resolve().parent.parent)
PYTHON = sys.executable
SERVER_PORT = 8765
OTHER_PORT = 8080
LOOPBACK_PORT = 8081
ALLOWED_UID = 4242
OTHER_UID = 4343
UNRELATED = "table inet hwiso_unrelated"

SERVE = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keeps connections open, for the test that holds one
    def do_GET(self):
        body = sys.argv[3].encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), Handler).serve_forever()
"""

FETCH = """
import sys, urllib.request
try:
    print(urllib.request.urlopen(sys.argv[1], timeout=float(sys.argv[2])).read().decode())
except OSError as exc:
    print("FAILED", exc)
"""

# Runs the executor inside a namespace: one operation, its result as JSON on stdout.
DRIVER = """
import json, sys
from pathlib import Path
from hostwatch import protocol
from hostwatch.agent.isolation import Isolation, IsolationError
op, state_dir, args = sys.argv[1], Path(sys.argv[2]), json.loads(sys.argv[3])
iso = Isolation(state_dir, nft=args.get("nft"))
try:
    if op == "apply":
        params = protocol.IsolateParameters.model_validate(args["params"])
        server = [tuple(e) for e in args["server"]]
        result = iso.apply(params, server, args.get("dns", []))
    elif op == "release":
        result = iso.release()
    elif op == "status":
        result = list(iso.status())
    else:
        result = iso.restore()
    print(json.dumps({"ok": result}))
except IsolationError as exc:
    print(json.dumps({"error": str(exc)}))
"""


def _run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=60)


@dataclass
class Pair:
    """Namespace A (the device) and B (the server's side), with their processes."""

    a: str
    b: str
    a_ip: str
    b_ip: str
    state_dir: Path
    processes: list[subprocess.Popen[str]] = field(default_factory=list)

    def enter(self, ns: str) -> list[str]:
        # nsenter switches only the network namespace; `ip netns exec` would also remount
        # /sys, hiding the cgroup hierarchy nft looks cgroups up in.
        return ["nsenter", f"--net=/run/netns/{ns}"]

    def nft(self, ns: str, *args: str, check: bool = True) -> str:
        return _run(*self.enter(ns), "nft", *args, check=check).stdout

    def serve(self, ns: str, address: str, port: int, name: str) -> None:
        argv = [*self.enter(ns), PYTHON, "-c", SERVE, address, str(port), name]
        self.processes.append(subprocess.Popen(argv, text=True))

    def fetch(
        self, ns: str, address: str, port: int, uid: int | None = None, cgroup: Path | None = None
    ) -> str | None:
        """The body a client in `ns` gets from address:port, or None if it cannot connect."""
        argv = [PYTHON, "-c", FETCH, f"http://{address}:{port}/", "1.0"]
        if uid is not None:
            argv = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", *argv]
        if cgroup is not None:
            # The client joins the cgroup before it makes its socket.
            argv = ["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', str(cgroup), *argv]
        out = _run(*self.enter(ns), *argv).stdout.strip()
        return None if out.startswith("FAILED") else out

    def isolation(self, op: str, **args: Any) -> Any:
        """Run one Isolation operation inside A; its result, or IsolationError."""
        env = {**os.environ, "PYTHONPATH": SRC}
        argv = [*self.enter(self.a), PYTHON, "-c", DRIVER, op, str(self.state_dir)]
        done = subprocess.run(
            [*argv, json.dumps(args)], capture_output=True, text=True, env=env, check=False
        )
        assert done.returncode == 0, done.stderr
        answer = json.loads(done.stdout)
        if "error" in answer:
            raise IsolationError(answer["error"])
        return answer["ok"]

    def apply(self, mode: str = "full", **params: Any) -> dict[str, Any]:
        server = [[self.b_ip, SERVER_PORT]]
        result: dict[str, Any] = self.isolation(
            "apply", params={"mode": mode, **params}, server=server
        )
        return result

    def wait_listening(self) -> None:
        deadline = time.monotonic() + 15
        checks = [
            (self.a, self.b_ip, SERVER_PORT),
            (self.a, self.b_ip, OTHER_PORT),
            (self.b, self.a_ip, OTHER_PORT),
            (self.a, "127.0.0.1", LOOPBACK_PORT),
        ]
        while any(self.fetch(*check) is None for check in checks):
            assert time.monotonic() < deadline, "the test servers did not start"
            time.sleep(0.1)


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    suffix = secrets.token_hex(3)
    subnet = f"10.231.{secrets.randbelow(250) + 1}"
    found = Pair(f"hwiso-a-{suffix}", f"hwiso-b-{suffix}", f"{subnet}.1", f"{subnet}.2", tmp_path)
    try:
        for ns in (found.a, found.b):
            _run("ip", "netns", "add", ns)
            _run("ip", "-n", ns, "link", "set", "lo", "up")
        # Both ends are created inside the namespaces; nothing lands in the host's.
        _run(
            "ip", "link", "add", f"hwa{suffix}", "netns", found.a, "type", "veth",
            "peer", "name", f"hwb{suffix}", "netns", found.b,
        )  # fmt: skip
        for ns, dev, address in ((found.a, "hwa", found.a_ip), (found.b, "hwb", found.b_ip)):
            _run("ip", "-n", ns, "addr", "add", f"{address}/24", "dev", f"{dev}{suffix}")
            _run("ip", "-n", ns, "link", "set", f"{dev}{suffix}", "up")
        # A table of the device's own that isolation must leave alone.
        found.nft(found.a, "add", "table", "inet", "hwiso_unrelated")
        found.nft(
            found.a, "add", "chain", "inet", "hwiso_unrelated", "input",
            "{ type filter hook input priority 0; policy accept; }",
        )  # fmt: skip
        found.nft(found.a, "add", "rule", "inet", "hwiso_unrelated", "input", "tcp dport 9999 drop")
        # Like most hosts' firewalls it tracks connections, so flows opened before isolation
        # are known to conntrack as established (without it they are picked up mid-stream as
        # new, and dropped for that alone).
        found.nft(
            found.a, "add", "rule", "inet", "hwiso_unrelated", "input",
            "ct state established,related accept",
        )  # fmt: skip
        found.serve(found.a, "0.0.0.0", OTHER_PORT, "a-service")  # noqa: S104 - inside netns A
        found.serve(found.a, "127.0.0.1", LOOPBACK_PORT, "a-loopback")
        found.serve(found.b, "0.0.0.0", SERVER_PORT, "hostwatch-server")  # noqa: S104
        found.serve(found.b, "0.0.0.0", OTHER_PORT, "b-other")  # noqa: S104
        found.wait_listening()
        yield found
    finally:
        for process in found.processes:
            process.kill()
            process.wait()
        for ns in (found.a, found.b):
            _run("ip", "netns", "del", ns, check=False)


@pytest.fixture
def cgroups() -> Iterator[Path]:
    """A fresh cgroup v2 directory for the test, removed afterwards."""
    mount = _cgroup2_mount()
    if mount is None:
        pytest.skip("no cgroup v2 hierarchy is mounted here")
    base = mount / f"hwiso-{secrets.token_hex(3)}"
    try:
        base.mkdir()
    except OSError as exc:
        pytest.skip(f"cannot create a cgroup under {mount}: {exc}")
    try:
        yield base
    finally:
        for child in sorted(base.rglob("*"), reverse=True):
            if child.is_dir():
                child.rmdir()
        base.rmdir()


def _ruleset_sha256(listing: str) -> str:
    items = []
    for item in json.loads(listing)["nftables"]:
        for kind in ("chain", "rule"):
            if kind in item:
                items.append({kind: {k: v for k, v in item[kind].items() if k != "handle"}})
    return hashlib.sha256(
        json.dumps(items, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


@needs_netns
def test_isolation_full_keeps_only_the_server_and_release_restores(pair: Pair) -> None:
    unrelated_before = pair.nft(pair.a, "list", "table", "inet", "hwiso_unrelated")

    evidence = pair.apply("full")

    assert evidence["table"] == f"inet {TABLE}"
    assert evidence["mode"] == "full"
    assert evidence["server_endpoints"] == [f"{pair.b_ip}:{SERVER_PORT}"]
    listing = pair.nft(pair.a, "-j", "list", "table", "inet", TABLE)
    assert evidence["ruleset_sha256"] == _ruleset_sha256(listing)
    assert evidence["rule_count"] == sum("rule" in i for i in json.loads(listing)["nftables"])
    assert pair.fetch(pair.a, pair.b_ip, SERVER_PORT) == "hostwatch-server"
    assert pair.fetch(pair.a, pair.b_ip, OTHER_PORT) is None
    assert pair.fetch(pair.b, pair.a_ip, OTHER_PORT) is None
    assert pair.fetch(pair.a, "127.0.0.1", LOOPBACK_PORT) == "a-loopback"
    assert pair.isolation("status") == [True, "full", []]
    assert pair.nft(pair.a, "list", "table", "inet", "hwiso_unrelated") == unrelated_before
    assert oct((pair.state_dir / "isolation.json").stat().st_mode & 0o777) == "0o600"

    released = pair.isolation("release")

    assert released["removed"] is True
    assert pair.fetch(pair.a, pair.b_ip, OTHER_PORT) == "b-other"
    assert pair.fetch(pair.b, pair.a_ip, OTHER_PORT) == "a-service"
    assert TABLE not in pair.nft(pair.a, "list", "tables")
    assert pair.nft(pair.a, "list", "table", "inet", "hwiso_unrelated") == unrelated_before
    assert pair.isolation("status") == [False, None, []]
    assert not (pair.state_dir / "isolation.json").exists()
    again = pair.isolation("release")
    assert again["removed"] is False
    assert again["detail"] == "no isolation was in place"


UDP_LISTEN = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1])))
print("ready", flush=True)
s.settimeout(float(sys.argv[2]))
try:
    print(s.recvfrom(100)[0].decode(), flush=True)
except OSError:
    print("NOTHING", flush=True)
"""

UDP_SEND = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, sys.argv[4].encode())
s.bind(("0.0.0.0", int(sys.argv[1])))
try:
    s.sendto(sys.argv[5].encode(), (sys.argv[2], int(sys.argv[3])))
except OSError as exc:
    print("FAILED", exc)
"""


def _udp(pair: Pair, sport: int, to: str, dport: int, text: str) -> str:
    """What a listener on B's port `dport` receives of one datagram A sends from `sport`."""
    listener = subprocess.Popen(
        [*pair.enter(pair.b), PYTHON, "-c", UDP_LISTEN, str(dport), "2.0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert listener.stdout is not None and listener.stdout.readline().strip() == "ready"
        device = "hwa" + pair.a.rsplit("-", 1)[1]
        _run(*pair.enter(pair.a), PYTHON, "-c", UDP_SEND, str(sport), to, str(dport), device, text)
        return listener.communicate(timeout=10)[0].strip()
    finally:
        listener.kill()
        listener.wait()


@needs_netns
def test_isolation_lets_dhcp_out_only_as_broadcast(pair: Pair) -> None:
    """From port 68 to port 67 of any address was a way out of isolation for a root process."""
    pair.apply("full")

    assert _udp(pair, 68, pair.b_ip, 67, "unicast-leak") == "NOTHING"
    assert _udp(pair, 68, "255.255.255.255", 67, "discover") == "discover"
    assert _udp(pair, 12345, "255.255.255.255", 67, "other-port") == "NOTHING"

    pair.isolation("release")

    assert _udp(pair, 68, pair.b_ip, 67, "after-release") == "after-release"


@needs_netns
def test_isolation_cuts_a_connection_open_before_it(pair: Pair) -> None:
    # A client in B keeps one connection to A's service open across the isolation.
    hold = """
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1.0)
s.sendall(b"GET / HTTP/1.1\\r\\nHost: a\\r\\n\\r\\n")
first = b""
while not first.endswith(b"a-service"):  # the whole first answer, headers and body
    first += s.recv(4096)
print("first", flush=True)
sys.stdin.readline()
try:
    s.sendall(b"GET / HTTP/1.1\\r\\nHost: a\\r\\n\\r\\n"); print("second", len(s.recv(4096)))
except OSError as exc:
    print("cut", type(exc).__name__)
"""
    argv = [*pair.enter(pair.b), PYTHON, "-c", hold, pair.a_ip, str(OTHER_PORT)]
    client = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert client.stdout is not None and client.stdin is not None
    assert client.stdout.readline().strip() == "first"

    pair.apply("full")
    out, _ = client.communicate("\n", timeout=30)

    assert out.startswith("cut"), out


@needs_netns
def test_isolation_stops_a_remote_pushing_into_a_connection_the_device_opened(pair: Pair) -> None:
    # The device's own outbound connection made before isolation (a reverse shell, say): the
    # remote end must not get commands in, though the flow is established.
    push = """
import socket, sys
listener = socket.create_server((sys.argv[1], 9100)); print("ready", flush=True)
conn, _ = listener.accept(); sys.stdin.readline(); conn.sendall(b"cmd\\n")
"""
    pull = """
import socket, sys
s = socket.create_connection((sys.argv[1], 9100), timeout=2.0); print("connected", flush=True)
sys.stdin.readline()
try:
    print("got", s.recv(100))
except OSError as exc:
    print("nothing", type(exc).__name__)
"""

    def start(ns: str, script: str) -> subprocess.Popen[str]:
        argv = [*pair.enter(ns), PYTHON, "-c", script, pair.b_ip]
        found = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        pair.processes.append(found)
        return found

    remote = start(pair.b, push)
    assert remote.stdout is not None and remote.stdout.readline().strip() == "ready"
    device = start(pair.a, pull)
    assert device.stdout is not None and device.stdout.readline().strip() == "connected"

    pair.apply("full")
    remote.communicate("\n", timeout=30)
    out, _ = device.communicate("\n", timeout=30)

    assert out.startswith("nothing"), out


@needs_netns
def test_isolation_selective_lets_the_allowed_user_through(pair: Pair) -> None:
    full = pair.apply("full")
    assert pair.fetch(pair.a, pair.b_ip, OTHER_PORT, uid=ALLOWED_UID) is None

    evidence = pair.apply("selective", allow_users=[str(ALLOWED_UID)])  # replaces the full one

    assert evidence["mode"] == "selective"
    assert evidence["allow_uids"] == [ALLOWED_UID]
    assert evidence["rule_count"] == full["rule_count"] + 1
    assert pair.fetch(pair.a, pair.b_ip, OTHER_PORT, uid=ALLOWED_UID) == "b-other"
    assert pair.fetch(pair.a, pair.b_ip, OTHER_PORT, uid=OTHER_UID) is None
    assert pair.fetch(pair.a, pair.b_ip, OTHER_PORT) is None  # root is not on the list
    assert pair.fetch(pair.b, pair.a_ip, OTHER_PORT) is None
    assert pair.isolation("status") == [True, "selective", []]

    pair.isolation("release")

    assert pair.fetch(pair.a, pair.b_ip, OTHER_PORT, uid=OTHER_UID) == "b-other"


@needs_netns
def test_isolation_selective_lets_the_allowed_cgroup_through(pair: Pair, cgroups: Path) -> None:
    allowed, other = cgroups / "mail.service", cgroups / "other.service"
    allowed.mkdir()
    other.mkdir()
    relative = str(allowed.relative_to(_cgroup2_mount() or Path("/")))

    evidence = pair.apply("selective", allow_cgroups=[relative])

    assert evidence["allow_cgroups"] == [relative]
    assert pair.fetch(pair.a, pair.b_ip, OTHER_PORT, cgroup=allowed) == "b-other"
    assert pair.fetch(pair.a, pair.b_ip, OTHER_PORT, cgroup=other) is None
    assert pair.isolation("status") == [True, "selective", []]

    # A restarted service gets a new cgroup (a new id): seen, and restore allows it again.
    allowed.rmdir()
    allowed.mkdir()
    status = pair.isolation("status")
    assert status[0] is True
    assert status[2] == [f"allowed cgroup {relative!r} was re-created"]
    assert pair.fetch(pair.a, pair.b_ip, OTHER_PORT, cgroup=allowed) is None
    assert "re-created" in pair.isolation("restore")
    assert pair.fetch(pair.a, pair.b_ip, OTHER_PORT, cgroup=allowed) == "b-other"
    assert pair.isolation("status") == [True, "selective", []]


@needs_netns
def test_isolation_restore_reapplies_after_a_reboot_and_leaves_a_good_table(pair: Pair) -> None:
    pair.apply("full")
    before = pair.nft(pair.a, "-j", "list", "table", "inet", TABLE)

    assert pair.isolation("restore") is None
    assert pair.nft(pair.a, "-j", "list", "table", "inet", TABLE) == before  # same handles

    pair.nft(pair.a, "delete", "table", "inet", TABLE)  # what a reboot does
    assert pair.fetch(pair.a, pair.b_ip, OTHER_PORT) == "b-other"
    assert pair.isolation("status") == [False, None, ["the isolation table is not in the kernel"]]

    done = pair.isolation("restore")

    assert done.startswith("re-applied isolation")
    assert pair.fetch(pair.a, pair.b_ip, OTHER_PORT) is None
    assert pair.fetch(pair.a, pair.b_ip, SERVER_PORT) == "hostwatch-server"
    assert pair.isolation("status") == [True, "full", []]


@needs_netns
def test_isolation_status_reports_a_tampered_table_and_restore_repairs_it(pair: Pair) -> None:
    pair.apply("full")
    # A rule slipped into the table that lets one more service out (and, by the mark, back in).
    opening = f"tcp dport {OTHER_PORT} ct mark set ct mark | 0x00100000 accept"
    pair.nft(pair.a, "add", "rule", "inet", TABLE, "output", opening)
    assert pair.fetch(pair.a, pair.b_ip, OTHER_PORT) == "b-other"

    isolated, mode, problems = pair.isolation("status")

    assert (isolated, mode) == (True, "full")
    assert len(problems) == 1 and problems[0].startswith("1 chains or rules were not asked for")
    assert "re-applied" in pair.isolation("restore")
    assert pair.fetch(pair.a, pair.b_ip, OTHER_PORT) is None
    assert pair.isolation("status") == [True, "full", []]


@needs_netns
def test_release_isolation_command_releases_without_the_server(pair: Pair) -> None:
    unrelated_before = pair.nft(pair.a, "list", "table", "inet", "hwiso_unrelated")
    pair.apply("full")
    env = {**os.environ, "PYTHONPATH": SRC}
    argv = [*pair.enter(pair.a), PYTHON, "-m", "hostwatch", "agent", "release-isolation"]

    done = subprocess.run(
        [*argv, "--data-dir", str(pair.state_dir), "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["removed"] is True
    # The test's state dir holds no enrollment: the command says so rather than pass silently.
    assert json.loads(done.stdout)["agent_state_found"] is False
    assert not (pair.state_dir / "isolation.json").exists()
    plain = subprocess.run(
        [*argv, "--data-dir", str(pair.state_dir)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.startswith("no isolation was in place")
    assert f"warning: no agent state in {pair.state_dir.resolve()}" in plain.stderr
    assert pair.fetch(pair.a, pair.b_ip, OTHER_PORT) == "b-other"
    assert pair.isolation("restore") is None  # the agent's next start leaves it released
    assert TABLE not in pair.nft(pair.a, "list", "tables")
    assert pair.nft(pair.a, "list", "table", "inet", "hwiso_unrelated") == unrelated_before


@needs_netns
def test_isolation_fails_with_the_reason_without_privilege(pair: Pair) -> None:
    # A state dir the unprivileged agent can write, so the refusal comes from nft.
    state_dir = Path(tempfile.mkdtemp(prefix="hwiso-"))
    os.chown(state_dir, 65534, 65534)
    env = {**os.environ, "PYTHONPATH": SRC}
    args = {"params": {"mode": "full"}, "server": [[pair.b_ip, SERVER_PORT]]}
    argv = [
        *pair.enter(pair.a),
        *("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"),
        *(PYTHON, "-c", DRIVER, "apply", str(state_dir), json.dumps(args)),
    ]

    try:
        done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
        leftover = sorted(p.name for p in state_dir.iterdir())
    finally:
        shutil.rmtree(state_dir)

    assert done.returncode == 0, done.stderr
    error = json.loads(done.stdout)["error"]
    assert error.startswith("nft refused:") and "Operation not permitted" in error
    assert TABLE not in pair.nft(pair.a, "list", "tables")
    assert leftover == []
    assert pair.fetch(pair.a, pair.b_ip, OTHER_PORT) == "b-other"


@needs_netns
def test_isolation_refuses_a_cgroup_nft_cannot_take(pair: Pair) -> None:
    for path, reason in [
        ('mail"; flush ruleset; "', "not a cgroup path nftables can take"),
        ("system.slice/../../etc", "not a cgroup path nftables can take"),
        ("line\nbreak", "not a cgroup path nftables can take"),
        (f"hwiso-absent-{secrets.token_hex(4)}", "no cgroup"),
    ]:
        with pytest.raises(IsolationError, match=f"^allow_cgroups: .*{reason}"):
            pair.apply("selective", allow_cgroups=[path])
    with pytest.raises(IsolationError, match=r"^allow_users: no user 'hwiso-nobody-such'"):
        pair.apply("selective", allow_users=["hwiso-nobody-such"])

    assert TABLE not in pair.nft(pair.a, "list", "tables")
    assert not (pair.state_dir / "isolation.json").exists()


def test_isolation_fails_with_the_reason_without_nft(tmp_path: Path) -> None:
    isolation = Isolation(tmp_path, nft=str(tmp_path / "no-such-nft"))
    params = protocol.IsolateParameters(mode="full")

    with pytest.raises(IsolationError, match=r"^nftables is not installed: no .*no-such-nft$"):
        isolation.apply(params, [("10.231.0.2", SERVER_PORT)])

    assert not (tmp_path / "isolation.json").exists()
    isolated, mode, problems = isolation.status()
    assert (isolated, mode) == (False, None)
    assert problems[0].startswith("nftables is not installed")


def test_isolation_refuses_to_drop_its_own_server(tmp_path: Path) -> None:
    isolation = Isolation(tmp_path, nft=str(tmp_path / "no-such-nft"))

    with pytest.raises(IsolationError, match="no server address"):
        isolation.apply(protocol.IsolateParameters(), [])
    with pytest.raises(IsolationError, match="not an IP address"):
        isolation.apply(protocol.IsolateParameters(), [("server.example", 443)])


def test_server_endpoints_and_resolvers(tmp_path: Path) -> None:
    resolv = tmp_path / "resolv.conf"
    resolv.write_text(
        "# comment\nnameserver 10.231.0.53\nnameserver 127.0.0.53\nnameserver fd00::53\n"
        "nameserver not-an-address\nsearch example\n"
    )

    assert server_endpoints("http://127.0.0.1:8765/x") == [("127.0.0.1", 8765)]
    assert server_endpoints("https://[::1]") == [("::1", 443)]
    assert url_needs_dns("https://hostwatch.example:8765") is True
    assert url_needs_dns("http://10.231.0.2:8765") is False
    assert system_resolvers(resolv) == ["10.231.0.53", "fd00::53"]
