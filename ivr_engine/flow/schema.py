"""The JSON Schema of flow files, generated from the loader's field table.

The package ships the result as ivr_engine/flow/schema.json for editors (e.g. the YAML language
server: `# yaml-language-server: $schema=.../schema.json`); a test checks the shipped file equals
what this module generates, and that every flow in the repository passes it. Regenerate with

    python -m ivr_engine.flow.schema > ivr_engine/flow/schema.json
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from ivr_engine.flow.fields import COMMON_FIELDS, FLOW_FIELDS, ID_PATTERN, NODE_FIELDS, FieldType
from ivr_engine.flow.loader import FILE_FIELDS

SCHEMA_ID = "https://ivr-engine.invalid/schema/flow.json"


def _object(fields: dict[str, FieldType], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {name: f.full_schema() for name, f in fields.items()} | (extra or {}),
        "required": [name for name, f in fields.items() if f.required],
        "additionalProperties": False,
    }


def flow_schema() -> dict[str, Any]:
    kinds = {
        kind: _object({**COMMON_FIELDS, **fields}, {"kind": {"const": kind}}) for kind, fields in NODE_FIELDS.items()
    }
    node = {
        "type": "object",
        "required": ["kind"],
        "properties": {"kind": {"enum": list(NODE_FIELDS)}},
        "allOf": [
            {"if": {"properties": {"kind": {"const": kind}}}, "then": {"$ref": f"#/$defs/{kind}"}}
            for kind in NODE_FIELDS
        ],
    }
    top = _object(FLOW_FIELDS | FILE_FIELDS | COMMON_FIELDS)
    top["properties"]["nodes"] = {
        "anyOf": [
            {
                "type": "object",
                "propertyNames": {"pattern": ID_PATTERN},
                "additionalProperties": {"$ref": "#/$defs/node"},
            },
            {"type": "array", "items": {"$ref": "#/$defs/node"}},
        ]
    }
    # A sub-flow file has only title, include and nodes; the main file also the flow settings.
    top["required"] = []
    top["if"] = {"required": ["id"]}
    top["then"] = {"required": [name for name, f in FLOW_FIELDS.items() if f.required]}
    for definition in kinds.values():
        definition["properties"]["id"] = {"type": "string", "pattern": ID_PATTERN}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "IVR flow file",
        **top,
        "$defs": {"node": node, **kinds},
    }


def shipped_schema() -> dict[str, Any]:
    return json.loads(resources.files("ivr_engine.flow").joinpath("schema.json").read_text(encoding="utf-8"))


if __name__ == "__main__":
    print(json.dumps(flow_schema(), indent=2, ensure_ascii=False))
