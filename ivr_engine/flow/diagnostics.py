"""Diagnostics: what the loader, the validator and the prompt catalog say about bad input.

Every problem names the place it was written as `file:line:col`, the way compilers do, so editors
and CI logs can jump to it. Bad input never raises anything but `FlowError`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from ivr_engine.flow.model import SourceLocation

Severity = Literal["error", "warning"]

# For nodes and flows that were generated (by the optimizer or an import) rather than written.
UNKNOWN_LOCATION = SourceLocation("<generated>", 0, 0)


@dataclass(frozen=True, slots=True)
class Diagnostic:
    loc: SourceLocation
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        return f"{self.loc}: {self.severity}: {self.message}"

    @property
    def is_error(self) -> bool:
        return self.severity == "error"


class FlowError(Exception):
    """A flow or prompt catalog could not be loaded; `diagnostics` say where and why."""

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics = sorted(diagnostics, key=sort_key)
        super().__init__("\n".join(str(d) for d in self.diagnostics))


def sort_key(diagnostic: Diagnostic) -> tuple[str, int, int]:
    """By place; problems at one place keep the order they were found in (sorting is stable)."""
    loc = diagnostic.loc
    return (loc.file, loc.line, loc.col)


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.is_error for d in diagnostics)
