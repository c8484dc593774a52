"""The JSON Schema of one ownership file as people write it, for editors (yaml-language-server) and CI.

Generated from the same pydantic models the loader validates with, so the two cannot drift apart; the
published copy in ``schemas/ownership.schema.json`` is checked against this by a test. The schema covers the
shape of one file (fields, types, formats); what needs the whole configuration (references, duplicate ids,
coverage) is left to ``alertrouter config validate``.
"""

from __future__ import annotations

import json
from typing import Any

from alertrouter_router.ownership.model import OwnershipDocument

SCHEMA_ID = "https://github.com/alertrouter/alertrouter/schemas/ownership.schema.json"
PUBLISHED_PATH = "schemas/ownership.schema.json"


def ownership_json_schema() -> dict[str, Any]:
    """Draft-07 schema of an ``OwnershipDocument`` in input form (the widest editor support)."""
    schema = OwnershipDocument.model_json_schema(mode="validation")
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": SCHEMA_ID,
        "title": "alertrouter ownership configuration (one file)",
        **{key: value for key, value in schema.items() if key != "title"},
    }


def render() -> str:
    """The published file's exact text: sorted keys, two-space indent, trailing newline."""
    return json.dumps(ownership_json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
