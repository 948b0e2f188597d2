"""Fixtures for prompt audio tests: catalogs written to tmp YAML and loaded by the real catalog."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from prompt_fixtures import WriteCatalog

from ivr_engine.prompts.catalog import PromptCatalog


@pytest.fixture
def write_catalog(tmp_path: Path) -> WriteCatalog:
    """Write `prompts: {...}` to tmp_path/prompts/hotline.yaml (overwriting) and load it."""

    def write(prompts: dict[str, dict[str, str]]) -> PromptCatalog:
        directory = tmp_path / "prompts"
        directory.mkdir(exist_ok=True)
        (directory / "hotline.yaml").write_text(
            yaml.safe_dump({"prompts": prompts}, allow_unicode=True), encoding="utf-8"
        )
        return PromptCatalog.load(directory)

    return write
