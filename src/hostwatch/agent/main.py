"""The agent's entry point: `hostwatch agent`, `hostwatch-agent`, `python -m hostwatch.agent`,
and `... release-isolation`, which releases an isolated device by hand.

It imports only the agent and the protocol, never the server's database, API or auth
modules, so the agent's resident memory is what the agent needs (bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from hostwatch.agent.state import DEFAULT_DATA_DIR

ENROLL_TOKEN_ENV = "HOSTWATCH_ENROLL_TOKEN"  # noqa: S105 - a variable name, not a secret
LOG_LEVEL_ENV = "HOSTWATCH_LOG_LEVEL"


def setup_logging() -> None:
    level = os.environ.get(LOG_LEVEL_ENV, "INFO").upper()
    logging.basicConfig(
        level=getattr(logging, level, logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # One line per request from the HTTP client library is noise, not an event.
    logging.getLogger("httpx").setLevel(logging.WARNING)


def run(
    server: str,
    enroll_token: str | None,
    data_dir: Path,
    heartbeat_interval: float | None = None,
) -> int:
    """Run the agent until stopped; the process exit code."""
    from hostwatch.agent.runner import run_agent

    return run_agent(server, enroll_token, data_dir, heartbeat_interval=heartbeat_interval)


def parser(prog: str = "hostwatch agent") -> argparse.ArgumentParser:
    found = argparse.ArgumentParser(
        prog=prog, description="Run the endpoint agent on this machine."
    )
    found.add_argument(
        "--server", required=True, help="The server's URL, e.g. http://127.0.0.1:8765"
    )
    found.add_argument(
        "--enroll-token",
        default=os.environ.get(ENROLL_TOKEN_ENV) or None,
        help=f"Needed for the first start only (or {ENROLL_TOKEN_ENV}).",
    )
    found.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help="Where the agent keeps its state.",
    )
    found.add_argument(
        "--heartbeat-interval",
        type=float,
        default=None,
        help="Seconds between heartbeats (default: the server's).",
    )
    return found


RELEASE_ISOLATION = "release-isolation"


def release_parser(prog: str) -> argparse.ArgumentParser:
    found = argparse.ArgumentParser(
        prog=f"{prog} {RELEASE_ISOLATION}",
        description="Release this device's network isolation here, without the server (for a "
        "device that can no longer reach it). Run as root, with the agent's data dir: the "
        "agent then does not re-apply the isolation on its next start.",
    )
    found.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help="Where the agent keeps its state.",
    )
    found.add_argument("--json", action="store_true", help="Print the evidence as JSON.")
    return found


def release_isolation(data_dir: Path, as_json: bool = False) -> int:
    """Remove the isolation table and the agent's record of it; the process exit code."""
    from hostwatch.agent.isolation import STATE_FILE, Isolation, IsolationError
    from hostwatch.agent.state import STATE_FILE as AGENT_STATE_FILE

    # The table goes in any case; the record that would re-apply it lives in the data dir,
    # so a wrong --data-dir must be said, not pass silently.
    enrolled_here = (data_dir / AGENT_STATE_FILE).exists()
    recorded = (data_dir / STATE_FILE).exists()
    try:
        evidence = Isolation(data_dir).release()
    except IsolationError as exc:
        print(f"isolation not released: {exc}", file=sys.stderr)
        return 1
    evidence["data_dir"] = str(data_dir.resolve())
    evidence["agent_state_found"] = enrolled_here
    if as_json:
        print(json.dumps(evidence))
    else:
        print(f"{evidence['detail']} ({evidence['table']})")
        if not enrolled_here:
            print(
                f"warning: no agent state in {data_dir.resolve()}: if the agent keeps its state "
                "elsewhere, run this again with that --data-dir, or its next start isolates "
                "the device again",
                file=sys.stderr,
            )
        elif recorded:
            print(f"the agent's record of the isolation in {data_dir.resolve()} is removed")
    return 0


def main(argv: list[str] | None = None, prog: str = "hostwatch-agent") -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == [RELEASE_ISOLATION]:
        found = release_parser(prog).parse_args(argv[1:])
        setup_logging()
        return release_isolation(found.data_dir, found.json)
    args = parser(prog).parse_args(argv)
    setup_logging()
    return run(args.server, args.enroll_token, args.data_dir, args.heartbeat_interval)


if __name__ == "__main__":
    sys.exit(main())
