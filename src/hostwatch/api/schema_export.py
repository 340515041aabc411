"""Writes the API's OpenAPI document, from which the web app's types are generated.

Run `npm run gen:api` in web/ (it calls this module) after changing any route or schema.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from hostwatch.api.app import create_app
from hostwatch.config import Settings
from hostwatch.db.engine import make_engine


def openapi_document() -> dict[str, Any]:
    """The schema the running server would serve at /api/openapi.json.

    The app is built on an in-memory database it never opens: the schema depends only on
    the routes and their models.
    """
    with tempfile.TemporaryDirectory() as data_dir:
        engine = make_engine("sqlite://")
        try:
            app = create_app(Settings(data_dir=Path(data_dir)), engine)
            return app.openapi()
        finally:
            engine.dispose()


def render(document: dict[str, Any]) -> str:
    """Stable text, so the committed file changes only when the API does."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m hostwatch.api.schema_export OUTPUT.json", file=sys.stderr)
        return 2
    Path(argv[0]).write_text(render(openapi_document()), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
