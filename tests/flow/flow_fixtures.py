"""Paths the flow tests share (imported by name: tests directories are not packages)."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import yaml

from ivr_engine.flow.schema import shipped_schema

REPO = Path(__file__).resolve().parents[2]
CASES = REPO / "tests" / "data" / "flows" / "cases"
HOTLINE = REPO / "flows" / "hotline-12320.yaml"
FLOW_SCHEMA = jsonschema.Draft202012Validator(shipped_schema())


class SchemaLoader(yaml.SafeLoader):
    """Reads YAML the way an editor's schema check sees it: dates stay text, as the loader reads them."""


SchemaLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
