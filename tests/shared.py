"""Finds the shared data folder that tests read in place (never copied into the repo)."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def shared_dir() -> Path:
    """`HOSTWATCH_SHARED`, else `../shared` beside the repository; fails loudly if missing."""
    configured = os.environ.get("HOSTWATCH_SHARED")
    path = Path(configured) if configured else REPO.parent / "shared"
    if not (path / "data").is_dir():
        raise RuntimeError(
            f"shared data not found at {path}: set HOSTWATCH_SHARED to the folder that holds "
            "DESIGN.md and data/"
        )
    return path


def shared_data(*parts: str) -> Path:
    path = shared_dir().joinpath("data", *parts)
    if not path.exists():
        raise RuntimeError(f"shared data file missing: {path}")
    return path
