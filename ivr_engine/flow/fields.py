"""The flow language's field types: one table drives reading, writing and the JSON Schema.

Each node kind lists its fields with a `FieldType`. A field type reads a plain value (from YAML or
exported JSON) into the model's value, reporting problems at the value's position; writes a model
value back to plain data; and describes itself as JSON Schema. Because the loader, `dump_flow`, the
export and `schema.json` all come from `NODE_FIELDS`, they cannot disagree about the language.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

from ivr_engine.flow.diagnostics import Diagnostic, Severity
from ivr_engine.flow.model import (
    NODE_KINDS,
    Branch,
    KeyBindings,
    MenuOption,
    Node,
    SourceLocation,
    TimeRange,
    When,
)
from ivr_engine.flow.source import DataPath, Source

ID_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.-]{0,99}$"
VARIABLE_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
LANGUAGE_PATTERN = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$"
HOOK_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*$"
URL_PATTERN = r"^https?://[^\s]+$"
DURATION_PATTERN = r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h)?\s*$"
TIME_RANGE_PATTERN = r"^\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*-\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*$"
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}(\s*\.\.\s*\d{4}-\d{2}-\d{2})?$"
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKDAY_NAMES = {name: i for i, name in enumerate(WEEKDAYS)} | {
    full: i for i, full in enumerate(("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))
}


class Invalid(Exception):
    """A value was reported as wrong; the field keeps its default so reading can go on."""


class Reader:
    """Reads plain data into model values, collecting diagnostics and the positions of fields."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.diagnostics: list[Diagnostic] = []
        self.marks: dict[str, SourceLocation] = {}
        self.context = ""  # "menu 'root': " while a node is read, so messages name it

    def report(self, loc: SourceLocation, message: str, severity: Severity = "error") -> None:
        self.diagnostics.append(Diagnostic(loc, message, severity))

    def fail(self, path: DataPath, message: str, *, at_key: bool = False) -> Invalid:
        loc = self.source.key_loc(path) if at_key else self.source.loc(path)
        self.report(loc, self.context + message)
        return Invalid(message)

    def mark(self, name: str, path: DataPath) -> None:
        self.marks[name] = self.source.loc(path)

    def take_marks(self) -> tuple[tuple[str, SourceLocation], ...]:
        marks, self.marks = tuple(self.marks.items()), {}
        return marks

    def raw(self, path: DataPath, value: Any) -> str | None:
        """A scalar as text: as written in YAML (so `version: 1.10` stays "1.10"), else str()."""
        if isinstance(value, str):
            return value
        if value is None or isinstance(value, (dict, list)):
            return None
        return self.source.raw.get(path)

    def mapping(self, path: DataPath, value: Any, what: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(path, f"{what} must be a mapping of fields, got {describe(value)}")
        return value

    def check_fields(self, path: DataPath, data: Mapping[str, Any], allowed: Mapping[str, Any], what: str) -> None:
        for name in data:
            if name not in allowed:
                where = f" in {what}" if what else ""
                self.fail((*path, name), f"unknown field {name!r}{where}{suggestion(name, allowed)}", at_key=True)

    def fields(
        self,
        path: DataPath,
        data: Mapping[str, Any],
        spec: Mapping[str, FieldType],
        what: str,
        prefix: str = "",
    ) -> dict[str, Any]:
        """Reads every field of `spec` that `data` has; reports unknown and missing fields.

        Positions are marked under `prefix + name`, which is also the name messages use, so a
        nested value reads as e.g. 'options.2.target'.
        """
        self.check_fields(path, data, spec, what)
        values: dict[str, Any] = {}
        for name, field_type in spec.items():
            if name not in data:
                if field_type.required:
                    message = f"{what} needs the field {name!r}" if what else f"the field {name!r} is missing"
                    self.fail(path, message, at_key=True)
                continue
            try:
                values[name] = field_type.read(self, (*path, name), data[name], prefix + name)
            except Invalid:
                continue
            self.mark(prefix + name, (*path, name))
        return values


def describe(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    return f"{value!r}"


def suggestion(word: str, choices: Mapping[str, Any] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


# --- scalar field types ------------------------------------------------------------------------


class FieldType:
    schema: dict[str, Any] = {}
    required: bool = False
    nullable: bool = False  # an explicit null means "not set" (the model's None)

    def read(self, r: Reader, path: DataPath, value: Any, name: str) -> Any:
        if value is None and self.nullable:
            return None
        return self.read_value(r, path, value, name)

    def read_value(self, r: Reader, path: DataPath, value: Any, name: str) -> Any:
        raise NotImplementedError

    def write(self, value: Any, export: bool) -> Any:
        return value

    def refs(self, name: str, value: Any) -> Iterator[tuple[str, str]]:
        """(field name, node id) of every node this value points at."""
        return iter(())

    def prompt_refs(self, name: str, value: Any) -> Iterator[tuple[str, str]]:
        """(field name, prompt id) of every prompt this value plays."""
        return iter(())

    def full_schema(self) -> dict[str, Any]:
        if self.nullable:
            return {"anyOf": [self.schema, {"type": "null"}]}
        return self.schema


class Text(FieldType):
    def __init__(
        self,
        pattern: str | None = None,
        what: str = "text",
        *,
        required: bool = False,
        nullable: bool = False,
        max_length: int | None = None,
    ) -> None:
        self.pattern = re.compile(pattern) if pattern else None
        self.what = what
        self.required = required
        self.nullable = nullable
        self.max_length = max_length
        # YAML types `version: 2` or `mailbox: 1001` as numbers; free text accepts them as written.
        self.schema: dict[str, Any] = (
            {"type": "string", "pattern": pattern} if pattern else {"type": ["string", "number", "boolean"]}
        )
        if max_length is not None:
            self.schema["maxLength"] = max_length

    def read_value(self, r: Reader, path: DataPath, value: Any, name: str) -> str:
        text = value if isinstance(value, str) else (r.raw(path, value) if self.pattern is None else None)
        if text is None:
            raise r.fail(path, f"{name!r} must be {self.what}, got {describe(value)}")
        if self.pattern is not None and not self.pattern.match(text):
            raise r.fail(path, f"{name!r}: {text!r} is not {self.what}")
        if self.max_length is not None and len(text) > self.max_length:
            raise r.fail(path, f"{name!r}: {len(text)} characters, at most {self.max_length}")
        return text


class Ref(Text):
    """The id of another node."""

    def __init__(self, *, required: bool = False) -> None:
        super().__init__(ID_PATTERN, "a node id", required=required, nullable=not required)

    def refs(self, name: str, value: Any) -> Iterator[tuple[str, str]]:
        if value:
            yield name, value


class Prompt(Text):
    """The id of a prompt in the prompt catalog."""

    def __init__(self) -> None:
        super().__init__(ID_PATTERN, "a prompt id", nullable=True)

    def prompt_refs(self, name: str, value: Any) -> Iterator[tuple[str, str]]:
        if value:
            yield name, value


class TextList(FieldType):
    """A list of texts; a single text stands for a list of one."""

    def __init__(self, item: Text, *, required: bool = False) -> None:
        self.item = item
        self.required = required
        self.schema = {"anyOf": [item.schema, {"type": "array", "items": item.schema}]}

    def read_value(self, r: Reader, path: DataPath, value: Any, name: str) -> tuple[str, ...]:
        if not isinstance(value, list):
            item = self.item.read_value(r, path, value, name)
            r.mark(f"{name}.0", path)
            return (item,)
        items = []
        for i, item in enumerate(value):
            try:
                items.append(self.item.read_value(r, (*path, i), item, f"{name}[{i}]"))
            except Invalid:
                continue
            r.mark(f"{name}.{i}", (*path, i))
        return tuple(items)

    def write(self, value: Any, export: bool) -> Any:
        return list(value)

    def prompt_refs(self, name: str, value: Any) -> Iterator[tuple[str, str]]:
        for i, item in enumerate(value):
            yield from self.item.prompt_refs(f"{name}.{i}", item)


class Duration(FieldType):
    """Seconds: `5s`, `1.5s`, `500ms`, `2m`, `1h`, or a plain number of seconds."""

    def __init__(self, *, nullable: bool = False) -> None:
        self.nullable = nullable
        self.schema = {"anyOf": [{"type": "number", "minimum": 0}, {"type": "string", "pattern": DURATION_PATTERN}]}

    def read_value(self, r: Reader, path: DataPath, value: Any, name: str) -> float:
        seconds = parse_duration(value)
        if seconds is None:
            raise r.fail(path, f"{name!r}: bad duration {describe(value)} (write e.g. 5s, 1.5s, 500ms, 2m)")
        return seconds

    def write(self, value: Any, export: bool) -> Any:
        return None if value is None else _plain_number(value)


def parse_duration(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str) and (match := re.match(DURATION_PATTERN, value)):
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    else:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _plain_number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


class Day(FieldType):
    """A date, `2027-01-04`."""

    nullable = True
    schema = {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$", "format": "date"}

    def read_value(self, r: Reader, path: DataPath, value: Any, name: str) -> dt.date:
        text = r.raw(path, value)
        try:
            if text is None or not re.fullmatch("[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
                raise ValueError
            return dt.date.fromisoformat(text)
        except ValueError:
            raise r.fail(path, f"{name!r}: {describe(value)} is not a date like 2027-01-04") from None

    def write(self, value: Any, export: bool) -> Any:
        return None if value is None else value.isoformat()


class Integer(FieldType):
    def __init__(self, minimum: int, maximum: int, *, nullable: bool = False) -> None:
        self.minimum, self.maximum = minimum, maximum
        self.nullable = nullable
        self.schema = {"type": "integer", "minimum": minimum, "maximum": maximum}

    def read_value(self, r: Reader, path: DataPath, value: Any, name: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise r.fail(path, f"{name!r} must be a whole number, got {describe(value)}")
        if not self.minimum <= value <= self.maximum:
            raise r.fail(path, f"{name!r} must be between {self.minimum} and {self.maximum}, got {value}")
        return value


class Boolean(FieldType):
    schema = {"type": "boolean"}

    def read_value(self, r: Reader, path: DataPath, value: Any, name: str) -> bool:
        if not isinstance(value, bool):
            raise r.fail(path, f"{name!r} must be true or false, got {describe(value)}")
        return value


class Choice(FieldType):
    def __init__(self, *choices: str) -> None:
        self.choices = choices
        self.schema = {"enum": list(choices)}

    def read_value(self, r: Reader, path: DataPath, value: Any, name: str) -> str:
        if value not in self.choices:
            raise r.fail(path, f"{name!r} must be one of {', '.join(self.choices)}, got {describe(value)}")
        return value


class Pairs(FieldType):
    """A mapping written as `name: value`, kept in order as ((name, value), ...)."""

    def __init__(self, key: Text, value: Text, *, required: bool = False) -> None:
        self.key, self.value = key, value
        self.required = required
        self.schema = {
            "type": "object",
            "propertyNames": key.schema if "pattern" in key.schema else {"type": "string"},
            "additionalProperties": value.schema,
        }

    def read_value(self, r: Reader, path: DataPath, value: Any, name: str) -> tuple[tuple[str, str], ...]:
        data = r.mapping(path, value, f"{name!r}")
        pairs = []
        for item_key, item_value in data.items():
            item_path = (*path, item_key)
            try:
                self.key.read_value(r, item_path, item_key, f"{name} key")
                pairs.append((item_key, self.value.read_value(r, item_path, item_value, f"{name}.{item_key}")))
            except Invalid:
                continue
            r.mark(f"{name}.{item_key}", item_path)
        return tuple(pairs)

    def write(self, value: Any, export: bool) -> Any:
        return dict(value)

    def refs(self, name: str, value: Any) -> Iterator[tuple[str, str]]:
        for item_key, item_value in value:
            yield from self.value.refs(f"{name}.{item_key}", item_value)


class DtmfKeys(Text):
    """A key or key sequence, kept as text; whether a phone has the keys is the validator's call."""

    def __init__(self, *, nullable: bool) -> None:
        super().__init__(r"^[0-9*#]{0,4}$", "phone keys (0-9, * and #)", nullable=nullable)


# --- composite field types ---------------------------------------------------------------------

OPTION_FIELDS: dict[str, FieldType] = {
    "target": Ref(required=True),
    "prompt": Prompt(),
    "title": Text(),
    "pinned": Boolean(),
}


class Options(FieldType):
    """Menu options, in the order they are offered: either a mapping key -> option (or key ->
    target id), or a list of options that each name their `key`."""

    required = True

    def __init__(self) -> None:
        option: dict[str, Any] = {
            "type": "object",
            "properties": {name: f.schema for name, f in OPTION_FIELDS.items()},
            "required": ["target"],
            "additionalProperties": False,
        }
        keyed = {**option, "properties": {"key": {"type": "string"}, **option["properties"]}}
        self.schema = {
            "anyOf": [
                {"type": "object", "additionalProperties": {"anyOf": [{"type": "string"}, option]}},
                {"type": "array", "items": {**keyed, "required": ["key", "target"]}},
            ]
        }

    def read_value(self, r: Reader, path: DataPath, value: Any, name: str) -> tuple[MenuOption, ...]:
        options: list[MenuOption] = []
        seen: dict[str, SourceLocation] = {}
        for key, item_path, body in keyed_items(r, path, value, "key", "option"):
            if key in seen:
                r.fail(item_path, f"option key {key!r} is used twice (first at {seen[key]})", at_key=True)
                continue
            seen[key] = r.source.key_loc(item_path)
            prefix = f"options.{key}."
            try:
                if isinstance(body, str):  # the short form `"2": target_id`
                    fields = {"target": OPTION_FIELDS["target"].read(r, item_path, body, prefix + "target")}
                    r.mark(prefix + "target", item_path)
                else:
                    data = r.mapping(item_path, body, f"option {key!r}")
                    fields = r.fields(item_path, data, OPTION_FIELDS, f"option {key!r}", prefix)
            except Invalid:
                continue
            if "target" not in fields:
                continue
            options.append(MenuOption(key=key, loc=r.source.key_loc(item_path), **fields))
        return tuple(options)

    def write(self, value: Any, export: bool) -> Any:
        def body(option: MenuOption) -> dict[str, Any]:
            data: dict[str, Any] = {"target": option.target}
            if export or option.prompt is not None:
                data["prompt"] = option.prompt
            if export or option.title:
                data["title"] = option.title
            if export or option.pinned:
                data["pinned"] = option.pinned
            return data

        if export:
            return [{"key": o.key, **body(o)} for o in value]
        return {o.key: body(o) for o in value}

    def refs(self, name: str, value: Any) -> Iterator[tuple[str, str]]:
        for option in value:
            yield f"options.{option.key}.target", option.target

    def prompt_refs(self, name: str, value: Any) -> Iterator[tuple[str, str]]:
        for option in value:
            if option.prompt:
                yield f"options.{option.key}.prompt", option.prompt


def keyed_items(
    r: Reader, path: DataPath, value: Any, key_field: str, what: str
) -> Iterator[tuple[str, DataPath, Any]]:
    """(key, path, body) of a mapping key -> body, or of a list of bodies that name their key.

    In the list form the key field is taken out of the body, and positions point into the list.
    """
    if isinstance(value, dict):
        for key, body in value.items():
            yield key, (*path, key), body
        return
    if not isinstance(value, list):
        raise r.fail(path, f"expected a mapping or a list of {what}s, got {describe(value)}")
    for i, item in enumerate(value):
        item_path = (*path, i)
        if not isinstance(item, dict) or key_field not in item:
            r.fail(item_path, f"each {what} in a list needs a {key_field!r} field")
            continue
        key = r.raw((*item_path, key_field), item[key_field])
        if key is None:
            r.fail((*item_path, key_field), f"{key_field!r} must be text, got {describe(item[key_field])}")
            continue
        # Point the "key" position of this item at its key field, as the mapping form would.
        r.source.keys.setdefault(item_path, r.source.loc((*item_path, key_field)))
        yield key, item_path, {k: v for k, v in item.items() if k != key_field}


class WhenField(FieldType):
    """A condition; see `When`."""

    def __init__(self) -> None:
        self.parts: dict[str, FieldType] = {
            "time": TimeRanges(Text(TIME_RANGE_PATTERN, "a time range like 08:00-17:30")),
            "weekdays": TextList(Text(r"^[A-Za-z]+(\s*-\s*[A-Za-z]+)?$", "a weekday like mon or mon-fri")),
            "holiday": Text(ID_PATTERN, "a holiday calendar name", nullable=True),
            "not_holiday": Text(ID_PATTERN, "a holiday calendar name", nullable=True),
            "tier": TextList(Text()),
            "language": TextList(Text(LANGUAGE_PATTERN, "a language code like zh-CN")),
            "variables": Pairs(Text(VARIABLE_PATTERN, "a variable name"), Text(what="a regular expression")),
        }
        self.schema = {
            "type": "object",
            "properties": {name: f.full_schema() for name, f in self.parts.items()},
            "additionalProperties": False,
        }

    def read_value(self, r: Reader, path: DataPath, value: Any, name: str) -> When:
        data = r.mapping(path, value, f"{name!r}")
        fields = r.fields(path, data, self.parts, f"{name!r}", f"{name}.")
        if "time" in fields:
            fields["time"] = tuple(parse_time_range(text) for text in fields["time"])
        if "weekdays" in fields:
            fields["weekdays"] = self.weekdays(r, (*path, "weekdays"), fields["weekdays"])
        return When(loc=r.source.loc(path), **fields)

    @staticmethod
    def weekdays(r: Reader, path: DataPath, texts: tuple[str, ...]) -> tuple[int, ...]:
        days: list[int] = []
        for text in texts:
            ends = [part.strip().lower() for part in text.split("-")]
            if any(end not in _WEEKDAY_NAMES for end in ends):
                raise r.fail(path, f"{text!r} is not a weekday or range (use {', '.join(WEEKDAYS)}, e.g. mon-fri)")
            first, last = _WEEKDAY_NAMES[ends[0]], _WEEKDAY_NAMES[ends[-1]]
            span = (last - first) % 7 + 1
            days.extend(d for d in ((first + i) % 7 for i in range(span)) if d not in days)
        return tuple(days)

    def write(self, value: Any, export: bool) -> Any:
        when: When = value
        data: dict[str, Any] = {}
        if when.time:
            data["time"] = [format_time_range(t) for t in when.time]
        if when.weekdays:
            data["weekdays"] = [WEEKDAYS[d] for d in when.weekdays]
        for name in ("holiday", "not_holiday"):
            if getattr(when, name) is not None:
                data[name] = getattr(when, name)
        for name in ("tier", "language"):
            if getattr(when, name):
                data[name] = list(getattr(when, name))
        if when.variables:
            data["variables"] = dict(when.variables)
        return data


def parse_time_range(text: str) -> TimeRange:
    """ "08:00-17:30" (end exclusive; 24:00 means midnight); the text already matched the pattern."""
    match = re.match(TIME_RANGE_PATTERN, text)
    assert match is not None
    numbers = [int(g) if g else 0 for g in match.groups()]

    def moment(hour: int, minute: int, second: int) -> dt.time:
        if (hour, minute, second) == (24, 0, 0):
            return dt.time(0, 0)
        return dt.time(hour, minute, second)

    return TimeRange(start=moment(*numbers[:3]), end=moment(*numbers[3:]))


def time_range_error(text: str) -> str | None:
    match = re.match(TIME_RANGE_PATTERN, text)
    if match is None:
        return f"{text!r} is not a time range like 08:00-17:30"
    numbers = [int(g) if g else 0 for g in match.groups()]
    for hour, minute, second in (numbers[:3], numbers[3:]):
        if minute > 59 or second > 59 or hour > 24 or (hour == 24 and (minute or second)):
            return f"{text!r}: {hour:02d}:{minute:02d} is not a time of day"
    return None


def format_time_range(time_range: TimeRange) -> str:
    def text(moment: dt.time) -> str:
        return moment.strftime("%H:%M:%S" if moment.second else "%H:%M")

    return f"{text(time_range.start)}-{text(time_range.end)}"


class TimeRanges(TextList):
    """Checks each range's clock values, which the pattern alone cannot."""

    def read_value(self, r: Reader, path: DataPath, value: Any, name: str) -> tuple[str, ...]:
        texts = super().read_value(r, path, value, name)
        for i, text in enumerate(texts):
            problem = time_range_error(text)
            if problem:
                raise r.fail((*path, i) if isinstance(value, list) else path, problem)
        return texts


class Branches(FieldType):
    """Condition branches, tried in order: a list of `{when: {...}, target: id}`."""

    required = True

    def __init__(self) -> None:
        self.when = WhenField()
        self.schema = {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"when": self.when.schema, "target": Ref().schema},
                "required": ["when", "target"],
                "additionalProperties": False,
            },
        }

    def read_value(self, r: Reader, path: DataPath, value: Any, name: str) -> tuple[Branch, ...]:
        if not isinstance(value, list):
            raise r.fail(path, f"'branches' must be a list of {{when, target}}, got {describe(value)}")
        branches = []
        for i, item in enumerate(value):
            item_path = (*path, i)
            try:
                data = r.mapping(item_path, item, f"branch {i + 1}")
            except Invalid:
                continue
            parts = {"when": self.when, "target": Ref(required=True)}
            fields = r.fields(item_path, data, parts, f"branch {i + 1}", f"{name}.{i}.")
            if len(fields) < 2:
                continue
            branches.append(Branch(when=fields["when"], target=fields["target"], loc=r.source.loc(item_path)))
        return tuple(branches)

    def write(self, value: Any, export: bool) -> Any:
        return [{"when": self.when.write(b.when, export), "target": b.target} for b in value]

    def refs(self, name: str, value: Any) -> Iterator[tuple[str, str]]:
        for i, branch in enumerate(value):
            yield f"branches.{i}.target", branch.target


# --- node kinds --------------------------------------------------------------------------------

VARIABLE = Text(VARIABLE_PATTERN, "a variable name (letters, digits, _)")

NODE_FIELDS: dict[str, dict[str, FieldType]] = {
    "menu": {
        "prompt": Prompt(),
        "options": Options(),
        "timeout": Duration(),
        "retries": Integer(0, 9),
        "invalid_prompt": Prompt(),
        "timeout_prompt": Prompt(),
        "on_exhausted": Ref(),
        "keep_together": Boolean(),
        "fixed": Boolean(),
        "changed_notice": Prompt(),
        "changed_notice_until": Day(),
    },
    "announcement": {
        "prompts": TextList(Prompt(), required=True),
        "next": Ref(),
        "interruptible": Boolean(),
    },
    "collect": {
        "prompt": Prompt(),
        "variable": Text(VARIABLE_PATTERN, "a variable name (letters, digits, _)", required=True),
        "min_length": Integer(1, 64),
        "max_length": Integer(1, 64),
        "terminator": DtmfKeys(nullable=False),
        "pattern": Text(what="a regular expression", nullable=True),
        "timeout": Duration(),
        "retries": Integer(0, 9),
        "invalid_prompt": Prompt(),
        "next": Ref(),
        "on_failure": Ref(),
    },
    "lookup": {
        "hook": Text(HOOK_PATTERN, "a Python hook like package.module:function", nullable=True),
        "url": Text(URL_PATTERN, "an http(s) URL", nullable=True),
        "method": Choice("GET", "POST"),
        "params": Pairs(Text(VARIABLE_PATTERN, "a parameter name"), VARIABLE),
        "result_variable": VARIABLE,
        "timeout": Duration(),
        "branches": Pairs(Text(), Ref(required=True)),
        "default": Ref(),
        "on_error": Ref(),
    },
    "condition": {"branches": Branches(), "default": Ref()},
    "set": {"variables": Pairs(VARIABLE, Text(), required=True), "next": Ref()},
    "goto": {"target": Ref(required=True)},
    "language": {
        "language": Text(LANGUAGE_PATTERN, "a language code like zh-CN", required=True),
        "next": Ref(),
    },
    "voicemail": {
        "prompt": Prompt(),
        "mailbox": Text(required=True),
        "max_seconds": Integer(1, 3600),
        "next": Ref(),
    },
    "queue": {
        "queue": Text(r"^[A-Za-z0-9_.-]+$", "an Asterisk queue name", required=True),
        "prompt": Prompt(),
        "skills": TextList(Text()),
        "priority": Integer(0, 100),
        "timeout": Duration(nullable=True),
        "announce_position": Boolean(),
        "callback": Boolean(),
        "next": Ref(),
    },
    "transfer": {
        "destination": Text(required=True),
        "prompt": Prompt(),
        "timeout": Duration(),
        "next": Ref(),
    },
    "hangup": {"prompt": Prompt()},
    "survey": {
        "prompt": Prompt(),
        "variable": VARIABLE,
        "scale": Integer(2, 9),
        "thanks_prompt": Prompt(),
        "next": Ref(),
    },
}
assert set(NODE_FIELDS) == set(NODE_KINDS)

COMMON_FIELDS: dict[str, FieldType] = {"title": Text()}


def read_node(r: Reader, node_id: str, path: DataPath, body: Any) -> Node | None:
    """One node from its body (`kind` plus the kind's fields); None after reporting a problem."""
    try:
        data = r.mapping(path, body, f"node {node_id!r}")
    except Invalid:
        return None
    kind = data.get("kind")
    if kind not in NODE_KINDS:
        if "kind" not in data:
            r.fail(path, f"node {node_id!r} needs a 'kind' ({', '.join(NODE_KINDS)})", at_key=True)
        else:
            hint = suggestion(str(kind), tuple(NODE_KINDS))
            r.fail((*path, "kind"), f"unknown node kind {describe(kind)}{hint}")
        return None
    spec = {"kind": Text(), **COMMON_FIELDS, **NODE_FIELDS[kind]}
    before = len(r.diagnostics)
    r.take_marks()
    r.context = f"{kind} {node_id!r}: "
    try:
        values = r.fields(path, data, spec, "")
    finally:
        r.context = ""
    values.pop("kind")
    marks = r.take_marks()
    if len(r.diagnostics) > before:
        return None
    node_loc = r.source.key_loc(path)
    return NODE_KINDS[kind](id=node_id, loc=node_loc, field_locs=marks, **values)


def write_node(node: Node, export: bool) -> dict[str, Any]:
    """A node as plain data; `export` writes every field (defaults too) and options as a list."""
    data: dict[str, Any] = {"kind": node.kind}
    defaults = type(node)(id=node.id)
    for name, field_type in {**COMMON_FIELDS, **NODE_FIELDS[node.kind]}.items():
        value = getattr(node, name)
        if export or value != getattr(defaults, name) or field_type.required:
            data[name] = field_type.write(value, export)
    return data


def node_refs(node: Node) -> Iterator[tuple[str, str]]:
    """(field name, node id) of every node `node` points at, as written."""
    for name, field_type in NODE_FIELDS[node.kind].items():
        yield from field_type.refs(name, getattr(node, name))


def node_prompts(node: Node) -> Iterator[tuple[str, str]]:
    """(field name, prompt id) of every prompt `node` may play."""
    for name, field_type in NODE_FIELDS[node.kind].items():
        yield from field_type.prompt_refs(name, getattr(node, name))


# --- flow-wide settings ------------------------------------------------------------------------

KEY_BINDINGS: dict[str, FieldType] = {
    name: DtmfKeys(nullable=True) for name in ("operator", "back", "repeat", "bookmark", "personal_menu")
}


class Keys(FieldType):
    """Global key bindings; null disables one."""

    schema = {
        "type": "object",
        "properties": {name: f.full_schema() for name, f in KEY_BINDINGS.items()},
        "additionalProperties": False,
    }

    def read_value(self, r: Reader, path: DataPath, value: Any, name: str) -> KeyBindings:
        data = r.mapping(path, value, "'keys'")
        return KeyBindings(**r.fields(path, data, KEY_BINDINGS, "'keys'", f"{name}."))

    def write(self, value: Any, export: bool) -> Any:
        defaults = KeyBindings()
        return {
            name: getattr(value, name)
            for name in KEY_BINDINGS
            if export or getattr(value, name) != getattr(defaults, name)
        }


class Holidays(FieldType):
    """Calendars: name -> list of dates (`2026-10-01`) or date ranges (`2026-10-01..2026-10-07`)."""

    def __init__(self) -> None:
        date = {"type": "string", "pattern": DATE_PATTERN}
        self.schema = {
            "type": "object",
            "propertyNames": {"pattern": ID_PATTERN},
            "additionalProperties": {"type": "array", "items": date},
        }

    def read_value(self, r: Reader, path: DataPath, value: Any, name: str) -> dict[str, frozenset[dt.date]]:
        data = r.mapping(path, value, "'holidays'")
        calendars: dict[str, frozenset[dt.date]] = {}
        for calendar, dates in data.items():
            calendar_path = (*path, calendar)
            if not re.match(ID_PATTERN, calendar):
                r.fail(calendar_path, f"{calendar!r} is not a calendar name", at_key=True)
                continue
            if not isinstance(dates, list):
                r.fail(calendar_path, f"holiday calendar {calendar!r} must be a list of dates")
                continue
            days: set[dt.date] = set()
            for i, item in enumerate(dates):
                days.update(self.dates(r, (*calendar_path, i), r.raw((*calendar_path, i), item)))
            calendars[calendar] = frozenset(days)
            r.mark(f"{name}.{calendar}", calendar_path)
        return calendars

    @staticmethod
    def dates(r: Reader, path: DataPath, text: str | None) -> list[dt.date]:
        try:
            if text is None or not re.match(DATE_PATTERN, text.strip()):
                raise ValueError
            first, _, last = (part.strip() for part in text.partition(".."))
            start = dt.date.fromisoformat(first)
            end = dt.date.fromisoformat(last) if last else start
        except ValueError:
            r.fail(path, f"{text!r} is not a date like 2026-10-01 or a range like 2026-10-01..2026-10-07")
            return []
        if end < start or (end - start).days > 366:
            r.fail(path, f"{text!r}: the range must run forwards and span at most a year")
            return []
        return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]

    def write(self, value: Any, export: bool) -> Any:
        return {name: [day.isoformat() for day in sorted(days)] for name, days in value.items()}


FLOW_FIELDS: dict[str, FieldType] = {
    "id": Text(ID_PATTERN, "a flow id (letters, digits, _ . -)", required=True),
    "version": Text(required=True, max_length=64),  # stats_calls.flow_version: the database refuses more
    "title": Text(),
    "languages": TextList(Text(LANGUAGE_PATTERN, "a language code like zh-CN")),
    "default_language": Text(LANGUAGE_PATTERN, "a language code like zh-CN"),
    "start": Ref(required=True),
    "operator": Ref(),
    "keys": Keys(),
    "holidays": Holidays(),
    "timezone": Text(r"^[A-Za-z0-9_+\-/]+$", "a time zone like Asia/Shanghai"),
    "max_depth": Integer(1, 20, nullable=True),
}
