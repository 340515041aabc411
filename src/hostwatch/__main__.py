"""Lets `python -m hostwatch` run the command line."""

from hostwatch.cli import main

main()
