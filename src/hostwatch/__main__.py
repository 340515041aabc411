"""The `hostwatch` command. `hostwatch agent ...` goes straight to the agent's entry point,
so the agent process never imports the server's database, API and auth modules."""

from __future__ import annotations

import sys


def main() -> None:
    args = sys.argv[1:]
    agent_help = {"--help", "-h"} & set(args[1:]) and args[1:2] != ["release-isolation"]
    if args[:1] == ["agent"] and not agent_help:
        from hostwatch.agent.main import main as agent_main

        sys.exit(agent_main(args[1:], prog="hostwatch agent"))
    from hostwatch.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
