"""YAML read into plain data, remembering where every key and value was written.

PyYAML's `safe_load` forgets positions and silently keeps the last of two equal mapping keys, both
of which ops staff pay for when a flow is wrong. We compose the document into YAML nodes (which carry
marks) and convert them ourselves: mappings to dicts with string keys, sequences to lists, scalars to
str/int/float/bool/None. Positions live beside the data, keyed by the path to each value, so the same
readers can build a flow from YAML (with positions) or from exported JSON (without).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

import yaml

from ivr_engine.flow.diagnostics import Diagnostic, FlowError
from ivr_engine.flow.model import SourceLocation

DataPath: TypeAlias = tuple[str | int, ...]

# Aliases can make a small file expand enormously ("billion laughs"); a flow never needs this much.
MAX_VALUES = 200_000
MAX_NESTING = 64

_PLAIN_TYPES = (str, int, float, bool, type(None))


@dataclass
class Source:
    """Positions of the values of one document; empty for data that did not come from a file."""

    file: str
    values: dict[DataPath, SourceLocation] = field(default_factory=dict)
    keys: dict[DataPath, SourceLocation] = field(default_factory=dict)
    raw: dict[DataPath, str] = field(default_factory=dict)  # scalars as written, before typing

    def loc(self, path: DataPath) -> SourceLocation:
        """Where the value at `path` was written, or its closest enclosing value."""
        for end in range(len(path), -1, -1):
            found = self.values.get(path[:end])
            if found is not None:
                return found
        return SourceLocation(self.file, 1, 1) if self.values else SourceLocation(self.file, 0, 0)

    def key_loc(self, path: DataPath) -> SourceLocation:
        """Where the mapping key naming the value at `path` was written."""
        return self.keys.get(path) or self.loc(path)


def yaml_files(directory: Path) -> list[Path]:
    """The *.yaml and *.yml files directly in `directory`, sorted."""
    return sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])


def _location(file: str, mark: yaml.Mark | None) -> SourceLocation:
    if mark is None:
        return SourceLocation(file, 1, 1)
    return SourceLocation(file, mark.line + 1, mark.column + 1)


def parse_yaml(text: str, file: str) -> tuple[Any, Source]:
    """Parse one YAML document; raise FlowError naming the place of any syntax or structure error."""
    source = Source(file)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        raise FlowError([Diagnostic(_location(file, mark), f"YAML syntax: {problem}")]) from None
    except yaml.YAMLError as exc:  # reader errors (bad characters) carry a position, not a mark
        position = getattr(exc, "position", None)
        loc = SourceLocation(file, 1, 1) if position is None else _offset_location(text, file, position)
        raise FlowError([Diagnostic(loc, f"YAML: {exc}")]) from None
    except RecursionError:
        raise FlowError([Diagnostic(SourceLocation(file, 1, 1), "YAML nested too deeply")]) from None
    if root is None:
        raise FlowError([Diagnostic(SourceLocation(file, 1, 1), "the file is empty")])
    converter = _Converter(source)
    data = converter.convert(root, (), frozenset())
    if converter.diagnostics:
        raise FlowError(converter.diagnostics)
    return data, source


def _offset_location(text: str, file: str, offset: int) -> SourceLocation:
    before = text[:offset]
    line = before.count("\n") + 1
    return SourceLocation(file, line, offset - (before.rfind("\n") + 1) + 1)


class _Converter:
    def __init__(self, source: Source) -> None:
        self.source = source
        self.diagnostics: list[Diagnostic] = []
        self.count = 0
        self.constructor = yaml.SafeLoader("")

    def error(self, node: yaml.Node, message: str) -> None:
        self.diagnostics.append(Diagnostic(_location(self.source.file, node.start_mark), message))

    def convert(self, node: yaml.Node, path: DataPath, active: frozenset[int]) -> Any:
        self.count += 1
        if self.count > MAX_VALUES:
            if self.count == MAX_VALUES + 1:
                self.error(node, f"the document expands to more than {MAX_VALUES} values")
            return None
        if len(path) > MAX_NESTING or id(node) in active:
            self.error(node, "the document is nested too deeply (or an alias refers to itself)")
            return None
        self.source.values[path] = _location(self.source.file, node.start_mark)
        if isinstance(node, yaml.MappingNode):
            return self.mapping(node, path, active | {id(node)})
        if isinstance(node, yaml.SequenceNode):
            inner = active | {id(node)}
            return [self.convert(item, (*path, i), inner) for i, item in enumerate(node.value)]
        return self.scalar(node, path)

    def mapping(self, node: yaml.MappingNode, path: DataPath, active: frozenset[int]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self.error(key_node, "mapping keys must be plain words or numbers")
                continue
            if key_node.tag == "tag:yaml.org,2002:merge":
                self.error(key_node, "YAML merge keys (<<) are not supported; write the fields out")
                continue
            key = key_node.value
            key_path = (*path, key)
            if key in result:
                first = self.source.keys[key_path]
                self.error(key_node, f"duplicate key {key!r} (first written at {first})")
                continue
            self.source.keys[key_path] = _location(self.source.file, key_node.start_mark)
            result[key] = self.convert(value_node, key_path, active)
        return result

    def scalar(self, node: yaml.Node, path: DataPath) -> Any:
        self.source.raw[path] = node.value
        try:
            value = self.constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, TypeError, OverflowError) as exc:
            self.error(node, f"bad value {node.value!r}: {str(exc).splitlines()[0]}")
            return None
        # Dates, binary and other YAML types stay as written; the field readers give them meaning.
        return value if isinstance(value, _PLAIN_TYPES) else node.value
