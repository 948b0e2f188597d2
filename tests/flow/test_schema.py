"""schema.json: shipped as generated from the loader's field table, and true to every flow file."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml
from flow_fixtures import CASES, FLOW_SCHEMA, REPO, SchemaLoader

from ivr_engine.flow.schema import flow_schema, shipped_schema

FLOW_FILES = sorted((REPO / "flows").rglob("*.yaml"))
VALID_CASES = ["minimal.yaml", "with_include.yaml", "includes/info.yaml", "key_clash_disabled.yaml", "wide_menu.yaml"]
SHAPE_ERRORS = ["unknown_kind.yaml", "unknown_field.yaml", "wrong_type.yaml", "bad_duration.yaml"]


def read(path: Path) -> object:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=SchemaLoader)


def test_shipped_schema_is_the_generated_one() -> None:
    assert shipped_schema() == flow_schema(), (
        "regenerate: python -m ivr_engine.flow.schema > ivr_engine/flow/schema.json"
    )
    jsonschema.Draft202012Validator.check_schema(shipped_schema())


@pytest.mark.parametrize("path", FLOW_FILES + [CASES / c for c in VALID_CASES], ids=lambda p: p.name)
def test_every_flow_file_passes(path: Path) -> None:
    FLOW_SCHEMA.validate(read(path))


@pytest.mark.parametrize("name", SHAPE_ERRORS)
def test_shape_errors_fail_the_schema_too(name: str) -> None:
    assert list(FLOW_SCHEMA.iter_errors(read(CASES / name)))


def test_the_repository_has_flows_to_check() -> None:
    assert len(FLOW_FILES) >= 5
