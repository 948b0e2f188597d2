"""Loading a flow: the main YAML file, its included sub-flow files, into one checked `Flow`.

Node ids are global: every file contributes its nodes under the ids written, and an id written in
two places is an error naming both. Includes are relative to the including file and may nest; a file
included twice (or by itself) is an error.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ivr_engine.flow.diagnostics import Diagnostic, FlowError, has_errors
from ivr_engine.flow.fields import (
    COMMON_FIELDS,
    FLOW_FIELDS,
    ID_PATTERN,
    Invalid,
    Reader,
    Text,
    TextList,
    describe,
    keyed_items,
    read_node,
)
from ivr_engine.flow.model import Flow, Node, SourceLocation
from ivr_engine.flow.source import DataPath, parse_yaml, yaml_files

if TYPE_CHECKING:
    from ivr_engine.prompts.catalog import DurationSource

# Fields only a file on disk has: where its prompt texts live and which files it includes.
FILE_FIELDS = {"prompts": Text(what="a path to the prompt texts"), "include": TextList(Text(what="a file path"))}
SUB_FLOW_FIELDS = {**COMMON_FIELDS, "include": FILE_FIELDS["include"], "nodes": None}
MAIN_FLOW_FIELDS = {**FLOW_FIELDS, **FILE_FIELDS, "nodes": None}
_NODE_ID = Text(ID_PATTERN, "a node id (a letter or _, then letters, digits, _ . -)")


def load_flow(
    path: Path,
    *,
    check: bool = True,
    sources: list[Path] | None = None,
    manifest: DurationSource | None = None,
    missing_audio: Literal["warning", "error"] = "warning",
) -> Flow:
    """Load a flow file and its includes; with `check`, also validate it against its prompt texts
    (and, with `manifest`, their built audio: `missing_audio` says how a prompt without it counts).

    Raises FlowError with every problem found (errors only; warnings need `check_paths`).
    `sources`, when given, is extended with every file read or looked for, also when loading fails:
    a watcher must see a fix that lands in a file no good version used yet (a new include, a
    prompt file added to the catalog directory), so missing files and the directory count too.
    """
    loader = _FileLoader()
    try:
        flow = loader.load(Path(path))
        if check:
            from ivr_engine.flow.validate import validate_with_catalog

            errors = [d for d in validate_with_catalog(flow, manifest=manifest, missing_audio=missing_audio) if d.is_error]
            if errors:
                raise FlowError(errors)
    finally:
        if sources is not None:
            sources.extend(loader.sources)
    return flow


def read_text(path: Path) -> str:
    """A YAML file's text; a missing or unreadable file is a diagnostic, not a traceback."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        message = "no such file"
    except IsADirectoryError:
        message = "is a directory, not a flow file"
    except UnicodeDecodeError as exc:
        message = f"not UTF-8 text (byte {exc.start})"
    except OSError as exc:
        message = f"cannot read: {exc.strerror}"
    raise FlowError([Diagnostic(SourceLocation(str(path), 1, 1), message)])


def read_nodes(r: Reader, path: DataPath, value: Any, seen: dict[str, SourceLocation]) -> dict[str, Node]:
    """Nodes written as a mapping id -> node or a list of nodes with `id`; `seen` spans files."""
    nodes: dict[str, Node] = {}
    try:
        items = list(keyed_items(r, path, value, "id", "node"))
    except Invalid:
        return nodes
    for node_id, node_path, body in items:
        try:
            _NODE_ID.read_value(r, node_path, node_id, "node id")
        except Invalid:
            continue
        here = r.source.key_loc(node_path)
        if node_id in seen:
            r.report(here, f"node id {node_id!r} is already used at {seen[node_id]}")
            continue
        seen[node_id] = here
        node = read_node(r, node_id, node_path, body)
        if node is not None:
            nodes[node_id] = node
    return nodes


def flow_from_settings(
    r: Reader, data: dict[str, Any], nodes: dict[str, Node], *, files: tuple[str, ...], prompts: str | None
) -> Flow | None:
    """The Flow of settings read from `data` (FLOW_FIELDS) and nodes; None if anything was wrong."""
    settings = r.fields((), {k: v for k, v in data.items() if k in FLOW_FIELDS}, FLOW_FIELDS, "the flow")
    if "languages" in settings and "default_language" not in settings and settings["languages"]:
        settings["default_language"] = settings["languages"][0]
    if has_errors(r.diagnostics) or not {"id", "version", "start"} <= settings.keys():
        return None
    return Flow(nodes=nodes, files=files, prompts=prompts, field_locs=r.take_marks(), **settings)


class _FileLoader:
    def __init__(self) -> None:
        self.diagnostics: list[Diagnostic] = []
        self.nodes: dict[str, Node] = {}
        self.node_locs: dict[str, SourceLocation] = {}
        self.files: list[str] = []
        self.loaded: dict[Path, str] = {}  # resolved path -> the file name diagnostics use
        self.sources: list[Path] = []  # see load_flow

    def load(self, path: Path) -> Flow:
        self.sources.append(path)
        data, r = self.read(path, None)
        if r is None:
            raise FlowError(self.diagnostics)
        r.check_fields((), data, MAIN_FLOW_FIELDS, "the flow file")
        prompts = self.prompts_path(r, path, data)
        self.read_body(r, path, data)
        flow = flow_from_settings(r, data, self.nodes, files=tuple(self.files), prompts=prompts)
        self.diagnostics.extend(r.diagnostics)
        if flow is None or has_errors(self.diagnostics):
            raise FlowError(self.diagnostics)
        return flow

    def read(self, path: Path, included_at: SourceLocation | None) -> tuple[dict[str, Any], Reader | None]:
        name = str(path)
        resolved = path.resolve()
        if resolved in self.loaded:
            where = included_at or SourceLocation(name, 1, 1)
            self.diagnostics.append(Diagnostic(where, f"{name} is included more than once (or includes itself)"))
            return {}, None
        self.loaded[resolved] = name
        try:
            data, source = parse_yaml(read_text(path), name)
        except FlowError as exc:
            self.diagnostics.extend(exc.diagnostics)
            return {}, None
        self.files.append(name)
        r = Reader(source)
        if not isinstance(data, dict):
            r.fail((), f"a flow file must be a mapping of settings and nodes, got {describe(data)}")
            self.diagnostics.extend(r.diagnostics)
            return {}, None
        return data, r

    def read_body(self, r: Reader, path: Path, data: dict[str, Any]) -> None:
        """Nodes and includes: what main and sub-flow files have in common."""
        if "nodes" in data:
            self.nodes.update(read_nodes(r, ("nodes",), data["nodes"], self.node_locs))
        if "include" not in data:
            return
        try:
            includes = FILE_FIELDS["include"].read(r, ("include",), data["include"], "include")
        except Invalid:
            return
        for i, include in enumerate(includes):
            item_path = ("include", i) if isinstance(data["include"], list) else ("include",)
            self.include(path.parent / include, r.source.loc(item_path))

    def include(self, path: Path, at: SourceLocation) -> None:
        self.sources.append(path)
        if not path.is_file():
            self.diagnostics.append(Diagnostic(at, f"included file {path} does not exist"))
            return
        data, r = self.read(path, at)
        if r is None:
            return
        r.check_fields((), data, SUB_FLOW_FIELDS, "a sub-flow file (flow settings belong in the main file)")
        self.read_body(r, path, data)
        self.diagnostics.extend(r.diagnostics)

    def prompts_path(self, r: Reader, path: Path, data: dict[str, Any]) -> str | None:
        """The prompt catalog: `prompts:` relative to the flow file, else ../prompts if it exists."""
        if "prompts" not in data:
            default = path.parent.parent / "prompts"
            self.watch_catalog(default)
            return str(default.resolve()) if default.is_dir() else None
        try:
            written = FILE_FIELDS["prompts"].read(r, ("prompts",), data["prompts"], "prompts")
        except Invalid:
            return None
        catalog = path.parent / written
        self.watch_catalog(catalog)
        if not catalog.exists():
            r.fail(("prompts",), f"prompt texts {catalog} do not exist")
            return None
        return str(catalog.resolve())

    def watch_catalog(self, catalog: Path) -> None:
        # A directory's own stamp changes when a prompt file is added to it or removed.
        self.sources.append(catalog)
        if catalog.is_dir():
            self.sources.extend(yaml_files(catalog))
