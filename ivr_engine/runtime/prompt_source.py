"""Where the runtime gets the clips it plays: the prompt catalog, with measured audio durations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ivr_engine.prompts.catalog import DurationSource, PromptCatalog
from ivr_engine.prompts.clip import Clip


class PromptSource(Protocol):
    """Raises KeyError for a prompt it has no text for in `language`."""

    def clip(self, prompt_id: str, language: str) -> Clip: ...


@dataclass(frozen=True, slots=True)
class CatalogPrompts:
    """The catalog's clips timed by the built audio's manifest (estimates for prompts not built)."""

    catalog: PromptCatalog
    durations: DurationSource | None = None

    def clip(self, prompt_id: str, language: str) -> Clip:
        return self.catalog.clip(prompt_id, language, self.durations)
