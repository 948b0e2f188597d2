"""Export to JSON and back, and dump to YAML and back, keep the flow exactly."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from flow_fixtures import HOTLINE

from ivr_engine.flow.diagnostics import FlowError
from ivr_engine.flow.export import EXPORT_FORMAT, dump_flow, export_flow, flow_from_export
from ivr_engine.flow.loader import load_flow
from ivr_engine.flow.model import Flow
from ivr_engine.flow.validate import load_catalog
from ivr_engine.prompts.catalog import estimate_seconds
from ivr_engine.prompts.manifest import Manifest, ManifestEntry


def without_origin(flow: Flow) -> Flow:
    return dataclasses.replace(flow, files=(), prompts=None)


def test_export_import_round_trip(hotline: Flow) -> None:
    data = json.loads(json.dumps(export_flow(hotline, load_catalog(hotline))))
    assert flow_from_export(data) == without_origin(hotline)


def test_dump_load_round_trip(hotline: Flow, tmp_path: Path) -> None:
    path = tmp_path / "flows" / "dumped.yaml"
    path.parent.mkdir()
    path.write_text(dump_flow(hotline), encoding="utf-8")
    loaded = load_flow(path)  # the dump keeps the catalog path, so prompts are checked too
    assert loaded == dataclasses.replace(hotline, files=(str(path),))


def test_export_format(hotline: Flow) -> None:
    catalog = load_catalog(hotline)
    manifest = Manifest([ManifestEntry("main", "en", ("en/main.wav",), 3.21, "gtts", "en", "k", "h")])
    data = export_flow(hotline, catalog, manifest)
    assert (data["format"], data["format_version"]) == (EXPORT_FORMAT, 1)
    assert data["flow"]["id"] == "hotline-12320" and data["flow"]["start"] == "welcome"
    assert [n["id"] for n in data["nodes"]] == list(hotline.nodes)
    main = next(n for n in data["nodes"] if n["id"] == "main")
    assert main["kind"] == "menu" and main["timeout"] == 5  # every field, defaults too
    assert [(o["key"], o["target"]) for o in main["options"]][:2] == [("1", "disease"), ("2", "vaccination")]
    assert data["prompts"]["main"]["en"] == {
        "text": catalog.text("main", "en"),
        "sound": "ivr/en/main",
        "duration": 3.21,
        "measured": True,
    }
    zh = data["prompts"]["opt.main.2"]["zh-CN"]
    assert (zh["text"], zh["duration"], zh["measured"]) == (
        "预防接种请按2。",
        estimate_seconds("预防接种请按2。", "zh-CN"),
        False,
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"format": "other"}, "<export>:0:0: error: not a flow export (expected format 'ivr-engine/flow-export')"),
        (
            {"format": EXPORT_FORMAT, "format_version": 2},
            "<export>:0:0: error: export format version 2 is not supported (expected 1)",
        ),
        (
            {
                "format": EXPORT_FORMAT,
                "format_version": 1,
                "flow": {"id": "x", "version": "1", "start": "a"},
                "nodes": [{"id": "a"}],
            },
            "<export>:0:0: error: node 'a' needs a 'kind' (menu, announcement, collect, lookup, condition, set, goto, "
            "language, voicemail, queue, transfer, hangup, survey)",
        ),
    ],
)
def test_import_rejects_what_is_not_an_export(data: dict, message: str) -> None:
    with pytest.raises(FlowError) as caught:
        flow_from_export(data)
    assert [str(d) for d in caught.value.diagnostics] == [message]


def test_dump_is_the_authoring_form(tmp_path: Path) -> None:
    text = dump_flow(load_flow(HOTLINE))
    assert "'1':\n        target: disease" in text  # options keyed by their key, defaults left out
    assert "timeout: 5\n" not in text.split("  main:")[1].split("  crisis:")[0]
