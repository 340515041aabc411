"""The web app's API types are generated from the committed OpenAPI document; it must be current."""

from __future__ import annotations

import json

from hostwatch.api.schema_export import main, openapi_document, render
from tests.shared import REPO

COMMITTED = REPO / "web" / "src" / "api" / "openapi.json"


def test_schema_export_committed_document_matches_the_server() -> None:
    current = render(openapi_document())

    committed = COMMITTED.read_text(encoding="utf-8")

    assert committed == current, (
        "web/src/api/openapi.json is out of date with the server's routes: "
        "run 'npm run gen:api' in web/ and commit both generated files"
    )


def test_schema_export_writes_the_document_to_the_path_given(tmp_path) -> None:
    out = tmp_path / "openapi.json"

    status = main([str(out)])

    assert status == 0
    document = json.loads(out.read_text(encoding="utf-8"))
    assert "/api/me/preferences" in document["paths"]
    assert "/api/openapi.json" not in document["paths"]
