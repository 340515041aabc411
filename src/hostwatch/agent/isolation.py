"""Device isolation: an nftables table of the agent's own that drops all traffic but what the
agent needs to keep talking to the Hostwatch server, applied atomically and read back.

What stays allowed, and why:
- loopback, since local services talking to each other are not the network;
- the Hostwatch server's addresses and ports: out (any state) and in (established replies
  only), so the agent keeps reporting and can receive the release;
- replies on flows the device opened under the isolation's allowance (the server, the listed
  users and cgroups): outgoing packets of such a flow put a bit into its conntrack mark, and
  incoming packets are accepted only as established/related on a marked flow. Connections
  open before isolation (a remote shell, say) get no mark and are cut;
- DNS, only to the resolvers the caller names (`dns`): a server addressed by host name needs
  them, a server addressed by IP gets none, since DNS is a common tunnel out of a contained host;
- DHCP (v4 and v6) and IPv6 neighbour discovery, without which the device loses its address or
  its IPv6 neighbours and with them the server; DHCP goes out only to the broadcast address
  (v4) and the DHCPv6 servers' group ff02::1:2, not to any address (isolation_rules).
Nothing else: no other established flows, no forwarding.

Selective isolation also lets out the traffic of listed users (`meta skuid`; names are
looked up on the device when applied) and of listed cgroup v2 paths (`socket cgroupv2 level N
"path"`), with their replies by the conntrack mark. Only what they open: nothing may connect
in to them. Limitation: a cgroup rule matches the cgroup's id, so a restarted service (a new
cgroup) falls outside it until restore() re-applies; status() reports it meanwhile.
Tested on nft 1.0.6 with Linux 6.18: both matches work. nftables has no match on a process's
executable, so an application is allowed by the user it runs as or the cgroup (systemd unit)
it runs in. nft 1.0.6's JSON parser does not know `socket cgroupv2` (and its JSON listing
drops the level), so the cgroup rules go in with nft's own syntax, in a second transaction
into a chain the first one created: until that lands the device is fully isolated, never open.

Limitation: isolation holds against processes without root only. A root process sends and
receives raw frames through an AF_PACKET socket, which the inet hooks never see (checked in
two namespaces: a UDP datagram the output chain refused went out that way), and can delete
the table (put back at the next heartbeat). Chains in the netdev family (ingress, and egress
from Linux 5.16) on each interface would see those frames; they are not built.

The chains hook at priority -180: after conntrack (-200), so flows have their state, and before
the usual filter tables (0). A drop is final on a hook whatever other tables say, so another
table's accept cannot open the device; another table's drop can still block the server.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import os
import pwd
import re
import shutil
import socket
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from hostwatch import protocol
from hostwatch.agent.isolation_rules import (
    CGROUP_CHAIN,
    CGROUP_FS,
    FAMILY,
    TABLE,
    build_ruleset,
    canonical_listing,
    cgroup_rules,
    expected_cgroup_rule,
)

logger = logging.getLogger(__name__)

STATE_FILE = "isolation.json"
STATE_KEYS = frozenset({"params", "server", "dns", "uids", "cgroups", "skipped_cgroups"})
RELEASING_FILE = "isolation.json.releasing"
NFT_TIMEOUT = 30.0
# nft's own syntax has no escape for a double quote inside a string.
_CGROUP_UNSAFE = re.compile(r'["\\\x00-\x1f\x7f]')
_CGROUP_LEVEL = re.compile(r"socket cgroupv2 level (\d+) ")


class IsolationError(Exception):
    """Isolation could not be applied, verified or released; the message is the reason."""


def server_endpoints(url: str) -> list[tuple[str, int]]:
    """The (address, port) pairs the agent reaches the server at, resolving a host name now."""
    parts = urlsplit(url)
    if not parts.hostname:
        raise IsolationError(f"server URL {url!r} has no host")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        found = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise IsolationError(f"cannot resolve the server {parts.hostname!r}: {exc}") from exc
    endpoints: list[tuple[str, int]] = []
    for *_, address in found:
        pair = (str(address[0]).split("%")[0], port)
        if pair not in endpoints:
            endpoints.append(pair)
    return endpoints


def url_needs_dns(url: str) -> bool:
    """Whether the agent must resolve the server's host name (it is not an IP literal)."""
    host = urlsplit(url).hostname or ""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host != "localhost"
    return False


def system_resolvers(resolv_conf: Path = Path("/etc/resolv.conf")) -> list[str]:
    """The nameserver addresses in resolv.conf (loopback ones need no rule: lo is allowed).

    Limitation: a local stub resolver (systemd-resolved on 127.0.0.53) forwards to upstream
    servers that resolv.conf does not name; those are not allowed, so such a device resolves
    nothing while isolated. Address the server by IP on such devices.
    """
    found: list[str] = []
    try:
        lines = resolv_conf.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return found
    for line in lines:
        fields = line.split()
        if len(fields) >= 2 and fields[0] == "nameserver":
            try:
                address = ipaddress.ip_address(fields[1].split("%")[0])
            except ValueError:
                continue
            if not address.is_loopback and str(address) not in found:
                found.append(str(address))
    return found


def _resolve_users(names: Sequence[str]) -> list[tuple[str, int]]:
    users: list[tuple[str, int]] = []
    for name in names:
        if name.isdigit():
            uid = int(name)
            if uid > 2**32 - 2:
                raise IsolationError(f"allow_users: {name!r} is not a valid uid")
        else:
            try:
                uid = pwd.getpwnam(name).pw_uid
            except (KeyError, ValueError):
                raise IsolationError(f"allow_users: no user {name!r} on this device") from None
        users.append((name, uid))
    return users


def _cgroup2_mount(mountinfo: Path = Path("/proc/self/mountinfo")) -> Path | None:
    for line in mountinfo.read_text(encoding="utf-8").splitlines():
        before, _, after = line.partition(" - ")
        fields = before.split()
        if after.split()[:1] == ["cgroup2"] and len(fields) >= 5 and fields[3] == "/":
            return Path(fields[4])
    return None


def _resolve_cgroups(
    paths: Sequence[str], skip_missing: bool = False
) -> tuple[list[dict[str, Any]], list[str]]:
    """Each cgroup as nft will see it (path under /sys/fs/cgroup, level, id), and the paths
    skipped as absent (only with skip_missing)."""
    if not paths:
        return [], []
    mount = _cgroup2_mount()
    if mount is None:
        raise IsolationError("allow_cgroups: this device has no cgroup v2 hierarchy mounted")
    if mount != CGROUP_FS and mount.parent != CGROUP_FS:
        raise IsolationError(
            f"allow_cgroups: cgroup v2 is mounted at {mount}, where nft cannot look it up"
        )
    prefix = "" if mount == CGROUP_FS else mount.name + "/"
    cgroups: list[dict[str, Any]] = []
    skipped: list[str] = []
    for raw in paths:
        relative = raw.strip("/")
        parts = relative.split("/")
        if _CGROUP_UNSAFE.search(raw) or not relative or {"", ".", ".."} & set(parts):
            raise IsolationError(
                f"allow_cgroups: {raw!r} is not a cgroup path nftables can take (a relative "
                "path without quotes, backslashes, control characters, '.' or '..')"
            )
        try:
            found = os.stat(mount / relative)
        except OSError:
            if skip_missing:
                skipped.append(raw)
                continue
            raise IsolationError(f"allow_cgroups: no cgroup {raw!r} on this device") from None
        cgroups.append(
            {"path": raw, "nft_path": prefix + relative, "level": len(parts), "id": found.st_ino}
        )
    return cgroups, skipped


def _cgroup_exists(path: str) -> bool:
    mount = _cgroup2_mount()
    return mount is not None and (mount / path.strip("/")).is_dir()


class Isolation:
    """Applies, verifies, releases and restores the isolation table on this device."""

    def __init__(self, state_dir: Path, nft: str | None = None) -> None:
        self.state_dir = Path(state_dir)
        self.nft = nft or shutil.which("nft") or "/usr/sbin/nft"

    # The nft command

    def _run(self, args: list[str], stdin: str | None = None) -> str:
        try:
            # A fixed argument list, never a shell: untrusted names reach nft only as data.
            done = subprocess.run(
                [self.nft, *args],
                input=stdin,
                capture_output=True,
                text=True,
                timeout=NFT_TIMEOUT,
                check=False,
            )
        except FileNotFoundError:
            raise IsolationError(f"nftables is not installed: no {self.nft}") from None
        except PermissionError as exc:
            raise IsolationError(f"cannot run {self.nft}: {exc}") from None
        except subprocess.TimeoutExpired:
            raise IsolationError(f"{self.nft} did not answer in {NFT_TIMEOUT:.0f} s") from None
        if done.returncode != 0:
            reason = " ".join(done.stderr.split())[:2000] or f"exit status {done.returncode}"
            raise IsolationError(f"nft refused: {reason}")
        return done.stdout

    def _transaction(self, commands: list[dict[str, Any]]) -> None:
        self._run(["-j", "-f", "-"], json.dumps({"nftables": commands}))

    def _listing(self) -> list[dict[str, Any]] | None:
        """The table's chains and rules from the kernel, without handles; None if it is absent."""
        try:
            out = self._run(["-j", "list", "table", FAMILY, TABLE])
        except IsolationError as exc:
            if "No such file or directory" in str(exc):
                return None
            raise
        items = []
        for item in json.loads(out).get("nftables", []):
            for kind in ("chain", "rule"):
                if kind in item:
                    body = {k: v for k, v in item[kind].items() if k != "handle"}
                    items.append({kind: body})
        return items

    def _cgroup_levels(self) -> list[int]:
        text = self._run(["list", "chain", FAMILY, TABLE, CGROUP_CHAIN])
        return [int(level) for level in _CGROUP_LEVEL.findall(text)]

    # Persisted parameters

    def _state_path(self) -> Path:
        return self.state_dir / STATE_FILE

    def _load(self) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads(self._state_path().read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise IsolationError(
                f"cannot read isolation state {self._state_path()}: {exc}"
            ) from exc
        except ValueError as exc:
            raise IsolationError(f"isolation state {self._state_path()} is damaged: {exc}") from exc
        missing = STATE_KEYS - set(data) if isinstance(data, dict) else STATE_KEYS
        if missing:
            raise IsolationError(
                f"isolation state {self._state_path()} is damaged: no {sorted(missing)}"
            )
        return data

    def _save(self, data: dict[str, Any] | None) -> None:
        """Write (or with None, remove) the state atomically, readable by the agent only."""
        path = self._state_path()
        if data is None:
            path.unlink(missing_ok=True)
            return
        self.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = self.state_dir / f".{STATE_FILE}.tmp"
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, json.dumps(data, sort_keys=True).encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        dir_fd = os.open(self.state_dir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    # Apply and verify

    def apply(
        self,
        params: protocol.IsolateParameters,
        server: list[tuple[str, int]],
        dns: Sequence[str] = (),
    ) -> dict[str, Any]:
        """Isolate the device (replacing any isolation in place); the evidence read back.

        `dns`: resolver addresses to keep (see system_resolvers), needed only when the agent
        reaches its server by host name.
        """
        return self._apply(params, server, dns, skip_missing=False)

    def _apply(
        self,
        params: protocol.IsolateParameters,
        server: Sequence[tuple[str, int]] | Sequence[list[Any]],
        dns: Sequence[str],
        skip_missing: bool,
    ) -> dict[str, Any]:
        if not server:
            raise IsolationError("no server address to keep: the agent would lose its server")
        try:
            endpoints = [
                (str(ipaddress.ip_address(str(a).split("%")[0])), int(p)) for a, p in server
            ]
            resolvers = [str(ipaddress.ip_address(a)) for a in dns]
        except ValueError as exc:
            raise IsolationError(f"server or DNS address is not an IP address: {exc}") from None
        if not all(0 < port < 65536 for _, port in endpoints):
            raise IsolationError(f"server port out of range in {endpoints}")
        selective = params.mode == "selective"
        users = _resolve_users(params.allow_users) if selective else []
        cgroups, skipped = _resolve_cgroups(params.allow_cgroups if selective else [], skip_missing)
        state = {
            "params": params.model_dump(mode="json"),
            "server": [list(e) for e in endpoints],
            "dns": resolvers,
            "uids": [uid for _, uid in users],
            "cgroups": cgroups,
            "skipped_cgroups": skipped,
            "applied_at": datetime.now(UTC).isoformat(),
        }

        # Record first, so a crash between the two re-applies on start rather than forgets.
        previous = self._load()
        self._save(state)
        try:
            self._install(state)
            evidence = self._verify(state)
        except Exception:
            self._save(previous)
            self._revert(previous)
            raise
        logger.info(
            "isolation applied: mode %s, %d rules, server %s",
            params.mode,
            evidence["rule_count"],
            evidence["server_endpoints"],
        )
        return evidence

    def _revert(self, previous: dict[str, Any] | None) -> None:
        """Best effort after a failed apply: put back what was in place before it."""
        try:
            if previous is not None:
                self._install(previous)
            elif self._listing() is not None:
                self._run(["delete", "table", FAMILY, TABLE])
        except IsolationError as exc:
            logger.error("could not put back the isolation in place before a failed apply: %s", exc)

    def _install(self, state: dict[str, Any]) -> None:
        table = {"table": {"family": FAMILY, "name": TABLE}}
        ruleset = build_ruleset(
            [(str(a), int(p)) for a, p in state["server"]],
            state["dns"],
            state["uids"],
            bool(state["cgroups"]),
        )
        # Add, delete, add again: one transaction that replaces an existing table atomically.
        self._transaction(
            [{"add": table}, {"delete": table}, {"add": table}, *({"add": i} for i in ruleset)]
        )
        if state["cgroups"]:
            try:
                self._run(["-f", "-"], cgroup_rules(state["cgroups"]))
            except IsolationError as exc:
                raise IsolationError(f"the cgroup allowances failed: {exc}") from exc

    def _compare(self, state: dict[str, Any]) -> tuple[list[dict[str, Any]] | None, list[str]]:
        """The kernel's table (canonical) and how it differs from what the state asks for."""
        listing = self._listing()
        if listing is None:
            return None, ["the isolation table is not in the kernel"]
        canonical = canonical_listing(listing)
        cgroups = state["cgroups"]
        expected = build_ruleset(
            [(str(a), int(p)) for a, p in state["server"]],
            state["dns"],
            state["uids"],
            bool(cgroups),
        )
        expected += [expected_cgroup_rule(c) for c in cgroups]
        problems = []
        missing = [i for i in expected if i not in canonical]
        extra = [i for i in canonical if i not in expected]
        if missing:
            problems.append(f"{len(missing)} expected chains or rules are missing: {missing[:3]}")
        if extra:
            problems.append(f"{len(extra)} chains or rules were not asked for: {extra[:3]}")
        levels = [c["level"] for c in cgroups]
        if levels and self._cgroup_levels() != levels:
            problems.append(f"the cgroup rules' levels are not {levels}")
        return canonical, problems

    def _verify(self, state: dict[str, Any]) -> dict[str, Any]:
        canonical, problems = self._compare(state)
        if canonical is None or problems:
            raise IsolationError("isolation read back wrong: " + "; ".join(problems))
        params = state["params"]
        body = json.dumps(canonical, sort_keys=True, separators=(",", ":"))
        return {
            "table": f"{FAMILY} {TABLE}",
            "mode": params["mode"],
            "rule_count": sum(1 for i in canonical if "rule" in i),
            "ruleset_sha256": hashlib.sha256(body.encode("utf-8")).hexdigest(),
            "server_endpoints": [_endpoint(a, p) for a, p in state["server"]],
            "dns_servers": list(state["dns"]),
            "allow_uids": list(state["uids"]),
            "allow_cgroups": [c["path"] for c in state["cgroups"]],
            "skipped_cgroups": list(state["skipped_cgroups"]),
            "applied_at": state["applied_at"],
        }

    # Release, status, restore

    def release(self) -> dict[str, Any]:
        """Remove the isolation table, and only it; the evidence that it is gone."""
        path = self._state_path()
        releasing = self.state_dir / RELEASING_FILE
        if path.exists():
            # A crash after this rename and before the delete still ends released (restore).
            os.replace(path, releasing)
        try:
            present = self._listing() is not None
            if present:
                self._run(["delete", "table", FAMILY, TABLE])
        except IsolationError:
            if releasing.exists():
                os.replace(releasing, path)
            raise
        releasing.unlink(missing_ok=True)
        if self._listing() is not None:
            raise IsolationError("the isolation table is still in the kernel after its delete")
        logger.info("isolation released (table was %s)", "present" if present else "absent")
        return {
            "table": f"{FAMILY} {TABLE}",
            "removed": present,
            "detail": "isolation table removed" if present else "no isolation was in place",
        }

    def status(self) -> tuple[bool, str | None, list[str]]:
        """(isolated, mode, problems), read back from the kernel and compared with the state."""
        try:
            state = self._load()
            if state is None:
                if self._listing() is None:
                    return False, None, []
                return True, None, ["an isolation table is in place that this agent did not apply"]
            canonical, problems = self._compare(state)
        except IsolationError as exc:
            return False, None, [str(exc)]
        problems += _cgroup_drift(state)
        if canonical is None:
            return False, None, problems
        return True, str(state["params"]["mode"]), problems

    def restore(self) -> str | None:
        """On start (and cheap enough for every heartbeat): finish a release cut short, or
        re-apply an isolation the kernel lost (reboot) or whose cgroups were re-created.
        None when nothing needed doing; otherwise what was done. IsolationError if it could
        not (nft gone, no privilege): the device is then not isolated, and status() says so."""
        if (self.state_dir / RELEASING_FILE).exists():
            self.release()
            return "finished a release that was interrupted"
        state = self._load()
        if state is None:
            return None
        _, problems = self._compare(state)
        problems += _cgroup_drift(state)
        if not problems:
            return None
        params = protocol.IsolateParameters.model_validate(state["params"])
        # A cgroup missing now (its service not started yet) must not leave the device open.
        evidence = self._apply(params, state["server"], state["dns"], skip_missing=True)
        done = "re-applied isolation (" + "; ".join(problems) + ")"
        if evidence["skipped_cgroups"]:
            done += f"; cgroups not present, not allowed: {evidence['skipped_cgroups']}"
        logger.warning("%s", done)
        return done


def _cgroup_drift(state: dict[str, Any]) -> list[str]:
    """Allowed cgroups that were removed or re-created since (a restarted service gets a new
    cgroup id, which the rule no longer matches). Silent where the cgroup fs is not visible."""
    problems: list[str] = []
    if _cgroup2_mount() is None:
        return problems
    for cgroup in state.get("cgroups", []):
        try:
            now = os.stat(CGROUP_FS / cgroup["nft_path"]).st_ino
        except OSError:
            problems.append(f"allowed cgroup {cgroup['path']!r} no longer exists")
            continue
        if now != cgroup["id"]:
            problems.append(f"allowed cgroup {cgroup['path']!r} was re-created")
    for path in state.get("skipped_cgroups", []):
        if _cgroup_exists(path):
            problems.append(f"allowed cgroup {path!r} exists now")
    return problems


def _endpoint(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
