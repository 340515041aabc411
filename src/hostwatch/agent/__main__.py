"""Lets `python -m hostwatch.agent` run the agent without loading the server's modules."""

import sys

from hostwatch.agent.main import main

sys.exit(main(prog="python -m hostwatch.agent"))
