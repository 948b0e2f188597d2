"""Where the runtime gets the clips it plays: the prompt catalog, with measured audio durations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ivr_engine.prompts.catalog import DurationSource, PromptCatalog
from ivr_engine.prompts.clip import Clip
from ivr_engine.prompts.manifest import BuiltLanguages, Manifest


class PromptSource(Protocol):
    def clip(self, prompt_id: str, language: str) -> Clip:
        """Raises KeyError for a prompt it has no text for in `language`."""
        ...

    def heard(self, prompt_id: str, language: str) -> bool:
        """Whether a real call would hear the prompt: False where its audio is expected (the
        language has built audio) but not built, since Asterisk skips a missing file in silence."""
        ...


@dataclass(frozen=True, slots=True)
class CatalogPrompts:
    """The catalog's clips timed by the built audio's manifest (estimates for prompts not built)."""

    catalog: PromptCatalog
    durations: DurationSource | None = None
    # what the service plays from; without it (the simulator, tools) every clip counts as heard
    built: BuiltLanguages | None = None

    @classmethod
    def as_served(cls, catalog: PromptCatalog, manifest: Manifest | None) -> CatalogPrompts:
        """Timed by the manifest and heard as the service plays them; no manifest: estimates, all heard."""
        return cls(catalog, manifest, BuiltLanguages.of(manifest) if manifest is not None else None)

    def clip(self, prompt_id: str, language: str) -> Clip:
        return self.catalog.clip(prompt_id, language, self.durations)

    def heard(self, prompt_id: str, language: str) -> bool:
        return self.built is None or self.built.duration(prompt_id, language) is not None
