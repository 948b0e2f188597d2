"""The flow export with personal menus added (`ivr menu export`, docs/menus.md).

The document is the flow export (format `ivr-engine/flow-export`, docs/flows.md) with one more
top-level field, `personal`, which readers of the flow export ignore. Callers are keyed by the
number as the user listed it; nothing else about them is written.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ivr_engine.flow.export import export_flow
from ivr_engine.flow.model import Flow
from ivr_engine.personal.history import PersonalHistory
from ivr_engine.personal.layout import personalizable
from ivr_engine.personal.menus import Offer, PersonalMenus, PersonalParams
from ivr_engine.prompts.catalog import DurationSource, PromptCatalog
from ivr_engine.prompts.manifest import Manifest
from ivr_engine.runtime.prompt_source import CatalogPrompts

PERSONAL_VERSION = 1


def export_menus(
    flow: Flow,
    catalog: PromptCatalog,
    manifest: Manifest | None,
    store: PersonalHistory,
    callers: Iterable[str],
    params: PersonalParams = PersonalParams(),
) -> dict[str, Any]:
    # as the service lays the menus out: a shortcut whose sentence has no audio is not offered
    prompts = CatalogPrompts.as_served(catalog, manifest)
    menus = PersonalMenus.from_store(store, [(flow, prompts)], params=params)
    # A flow without personal menus (no main menu, as an after-hours message): every caller gets
    # the canonical flow, and there is no menu to precede nor key to free.
    layout = menus.layout(flow) if personalizable(flow) else None
    data = export_flow(flow, catalog, manifest)
    personal: dict[str, Any] = {}
    for caller in callers:
        offer = menus.offer(caller, flow)
        personal[caller] = _offer_data(offer) if offer is not None else None
        for prompt_id in _prompt_ids(offer):
            data["prompts"].setdefault(prompt_id, _prompt_entry(flow, catalog, manifest, prompt_id))
    data["personal"] = {
        "version": PERSONAL_VERSION,
        "before": layout.before if layout is not None else None,
        "free_keys": list(layout.free_keys) if layout is not None else [],
        "half_life_days": params.half_life_days,
        "min_calls": params.min_calls,
        "callers": personal,
    }
    return data


def _offer_data(offer: Offer) -> dict[str, Any]:
    return {
        "greeting": offer.root.greeting,
        "shortcuts": [
            {
                "key": shortcut.key,
                "target": shortcut.target,
                "prompt": shortcut.prompt,
                "q": round(reason.q, 4),
                "bookmarked": reason.bookmarked,
                "canonical_seconds": round(reason.canonical, 3),
            }
            for shortcut, reason in zip(offer.root.shortcuts, offer.reasons)
        ],
    }


def _prompt_ids(offer: Offer | None) -> list[str]:
    if offer is None:
        return []
    ids = [offer.root.greeting] + [s.prompt for s in offer.root.shortcuts]
    return [prompt_id for prompt_id in ids if prompt_id is not None]


def _prompt_entry(
    flow: Flow, catalog: PromptCatalog, manifest: DurationSource | None, prompt_id: str
) -> dict[str, dict[str, Any]]:
    """The flow export's prompt table entry: per language text, sound, duration, measured."""
    entry = {}
    for language in flow.languages:
        if catalog.text(prompt_id, language) is not None:
            clip = catalog.clip(prompt_id, language, manifest)
            entry[language] = {"text": clip.text, "sound": clip.sound, "duration": clip.duration, "measured": clip.measured}
    return entry
