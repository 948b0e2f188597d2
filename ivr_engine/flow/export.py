"""A flow written back out: as YAML in the flow language (`dump_flow`), or as the resolved JSON
export (`export_flow`, format documented in docs/flows.md) that `flow_from_export` reads back.

Both come from the field table in `fields`, the one the loader reads with, so what is written is
exactly what loads: `load(dump(flow)) == flow` and `flow_from_export(export_flow(flow)) == flow`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from ivr_engine.flow.diagnostics import Diagnostic, FlowError
from ivr_engine.flow.fields import FLOW_FIELDS, Reader, node_prompts, write_node
from ivr_engine.flow.loader import flow_from_settings, read_nodes
from ivr_engine.flow.model import Flow, SourceLocation
from ivr_engine.flow.source import Source
from ivr_engine.prompts.catalog import DurationSource, PromptCatalog

EXPORT_FORMAT = "ivr-engine/flow-export"
EXPORT_VERSION = 1
_ALWAYS_WRITTEN = {"id", "version", "start", "languages", "default_language"}


def flow_to_data(flow: Flow, *, export: bool = False) -> dict[str, Any]:
    """The flow as plain data: the YAML language's form, or with `export` every field spelled out
    and nodes and options as ordered lists."""
    defaults = Flow(id=flow.id, version=flow.version, start=flow.start, nodes={})
    data: dict[str, Any] = {}
    for name, field_type in FLOW_FIELDS.items():
        value = getattr(flow, name)
        if export or name in _ALWAYS_WRITTEN or value != getattr(defaults, name):
            data[name] = field_type.write(value, export)
    if export:
        data["nodes"] = [{"id": node.id, **write_node(node, export=True)} for node in flow.nodes.values()]
    else:
        if flow.prompts is not None:
            data["prompts"] = flow.prompts
        data["nodes"] = {node.id: write_node(node, export=False) for node in flow.nodes.values()}
    return data


class _Dumper(yaml.SafeDumper):
    """PyYAML writes the line breaks NEL, LS and PS raw inside single quotes, where they read back
    as a space; double quotes escape them."""


def _represent_text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = '"' if any(ch in text for ch in "\x85\u2028\u2029") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _represent_text)


def dump_flow(flow: Flow) -> str:
    """The flow as one YAML file of the flow language (includes resolved, positions dropped)."""
    return yaml.dump(flow_to_data(flow), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


def export_flow(
    flow: Flow, catalog: PromptCatalog | None = None, manifest: DurationSource | None = None
) -> dict[str, Any]:
    """The resolved tree as JSON-ready data (format `ivr-engine/flow-export`, version 1).

    `prompts` gives, for every prompt the flow plays, its text, sound and duration per language
    (measured when `manifest` has it, else estimated); it is empty without a catalog.
    """
    data = flow_to_data(flow, export=True)
    nodes = data.pop("nodes")
    return {
        "format": EXPORT_FORMAT,
        "format_version": EXPORT_VERSION,
        "flow": data,
        "nodes": nodes,
        "prompts": _prompt_table(flow, catalog, manifest) if catalog is not None else {},
    }


def _prompt_table(
    flow: Flow, catalog: PromptCatalog, manifest: DurationSource | None
) -> dict[str, dict[str, dict[str, Any]]]:
    table: dict[str, dict[str, dict[str, Any]]] = {}
    for node in flow.nodes.values():
        for _, prompt_id in node_prompts(node):
            if prompt_id in table:
                continue
            table[prompt_id] = {}
            for language in flow.languages:
                if catalog.text(prompt_id, language) is None:
                    continue
                clip = catalog.clip(prompt_id, language, manifest)
                table[prompt_id][language] = {
                    "text": clip.text,
                    "sound": clip.sound,
                    "duration": clip.duration,
                    "measured": clip.measured,
                }
    return table


def flow_from_export(data: Mapping[str, Any]) -> Flow:
    """The Flow of an `export_flow` document; raises FlowError if it is not one."""
    where = SourceLocation("<export>", 0, 0)
    if not isinstance(data, Mapping) or data.get("format") != EXPORT_FORMAT:
        raise FlowError([Diagnostic(where, f"not a flow export (expected format {EXPORT_FORMAT!r})")])
    if data.get("format_version") != EXPORT_VERSION:
        found = data.get("format_version")
        raise FlowError(
            [Diagnostic(where, f"export format version {found!r} is not supported (expected {EXPORT_VERSION})")]
        )
    settings, nodes_data = data.get("flow"), data.get("nodes")
    if not isinstance(settings, dict) or not isinstance(nodes_data, list):
        raise FlowError([Diagnostic(where, "a flow export needs a 'flow' mapping and a 'nodes' list")])
    r = Reader(Source("<export>"))
    r.check_fields((), settings, FLOW_FIELDS, "the exported flow")
    nodes = read_nodes(r, ("nodes",), nodes_data, {})
    flow = flow_from_settings(r, settings, nodes, files=(), prompts=None)
    if flow is None or r.diagnostics:
        raise FlowError(r.diagnostics or [Diagnostic(where, "the exported flow is incomplete")])
    return flow
