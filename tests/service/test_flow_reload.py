"""Hot reload: an edited flow replaces the one in service only when it is valid."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
import structlog
from waiting import until

from ivr_engine import flows as flows_module
from ivr_engine.config import Settings
from ivr_engine.flow.diagnostics import FlowError
from ivr_engine.flows import FlowLibrary, LoadedFlow
from ivr_engine.prompts.manifest import Manifest, ManifestEntry
from ivr_engine.service import Service

REPO = Path(__file__).resolve().parents[2]

FLOW = """\
id: reload-test
version: "{version}"
languages: [zh-CN, en]
default_language: en
prompts: {prompts}
start: goodbye
nodes:
  goodbye: {{kind: hangup, prompt: {prompt}}}
"""


def save(path: Path, text: str) -> None:
    """Write `text` with an mtime later than the file had, so the next poll sees the edit."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text)
    stamp = max(path.stat().st_mtime_ns, before + 1_000_000_000)
    os.utime(path, ns=(stamp, stamp))


def write(path: Path, version: str, prompt: str = "goodbye") -> None:
    save(path, FLOW.format(version=version, prompts=REPO / "prompts", prompt=prompt))


@pytest.fixture
def library(tmp_path: Path) -> tuple[FlowLibrary, Path]:
    flow = tmp_path / "flow.yaml"
    write(flow, "1.1")
    library = FlowLibrary({"default": flow}, tmp_path / "audio")
    library.load_all()
    return library, flow


def test_a_valid_edit_is_served_and_a_broken_one_is_not(library: tuple[FlowLibrary, Path]) -> None:
    flows, path = library
    assert flows.get("default").flow.version == "1.1"
    assert flows.reload_changed() == []  # nothing changed, nothing reloaded

    write(path, "1.2")
    assert flows.reload_changed() == [("default", [])]
    assert flows.get("default").flow.version == "1.2"

    write(path, "1.3", prompt="no.such.prompt")
    ((name, errors),) = flows.reload_changed()
    assert name == "default" and errors
    assert "no.such.prompt" in str(errors[0]) and str(errors[0]).startswith(str(path))
    assert flows.get("default").flow.version == "1.2"  # the good flow keeps serving
    assert flows.reload_changed() == []  # the same bad edit is reported once

    write(path, "1.4")
    flows.reload_changed()
    assert flows.get("default").flow.version == "1.4"


def test_a_hook_that_fails_at_import_rejects_the_edit(
    library: tuple[FlowLibrary, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flows, path = library
    (tmp_path / "failing_hooks.py").write_text("raise RuntimeError('boom at import')\ndef f(p): return 'x'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    text = FLOW.format(version="1.2", prompts=REPO / "prompts", prompt="goodbye").replace("start: goodbye", "start: look")
    save(path, text + "  look: {kind: lookup, hook: 'failing_hooks:f', default: goodbye}\n")
    ((_, errors),) = flows.reload_changed()
    assert [d.message for d in errors] == [
        "lookup 'look': hook module 'failing_hooks' cannot be imported: RuntimeError: boom at import"
    ]
    assert flows.get(None).flow.version == "1.1"


def test_a_loader_failure_rejects_that_edit_once_and_the_other_flows_still_reload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken, other = tmp_path / "broken.yaml", tmp_path / "other.yaml"
    write(broken, "1.1")
    write(other, "1.1")
    flows = FlowLibrary({"default": broken, "other": other}, tmp_path / "audio")
    flows.load_all()
    real_load_flow = flows_module.load_flow

    def load_flow(path: Path, **kwargs: object) -> object:
        if path == broken:
            raise RecursionError("maximum recursion depth exceeded")
        return real_load_flow(path, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(flows_module, "load_flow", load_flow)
    write(broken, "1.2")
    write(other, "1.2")
    with structlog.testing.capture_logs() as logs:
        attempts = flows.reload_changed()
        assert flows.reload_changed() == []  # the same edit is not tried again at every poll
    assert [(name, [str(d) for d in errors]) for name, errors in attempts] == [
        (
            "default",
            [f"{broken}:1:1: error: the flow could not be loaded (RecursionError: maximum recursion depth exceeded);"
             " the engine's log has the traceback"],
        ),
        ("other", []),
    ]
    assert [(log["flow"], log["exc_info"]) for log in logs if log["event"] == "flow.load_failed"] == [("default", True)]
    assert flows.get("default").flow.version == "1.1" and flows.get("other").flow.version == "1.2"

    monkeypatch.setattr(flows_module, "load_flow", real_load_flow)
    write(broken, "1.3")
    assert flows.reload_changed() == [("default", [])]
    assert flows.get("default").flow.version == "1.3"


async def test_the_reload_loop_logs_an_error_and_serves_later_edits(library: tuple[FlowLibrary, Path]) -> None:
    flows, path = library
    reloaded: list[str] = []

    def lay_out_personal_menus(loaded: LoadedFlow) -> None:
        reloaded.append(loaded.flow.version)
        if len(reloaded) == 1:
            raise RuntimeError("the personal menus could not be laid out")

    service = Service(Settings(), library=flows, on_reload=lay_out_personal_menus)
    with structlog.testing.capture_logs() as logs:
        polling = asyncio.create_task(service.reload_forever(interval=0.01))
        write(path, "1.2")
        await until(lambda: reloaded == ["1.2"], "the first reload")
        write(path, "1.3")
        await until(lambda: reloaded == ["1.2", "1.3"], "a reload after the failed one")
        polling.cancel()
    assert flows.get(None).flow.version == "1.3"
    assert [log["flow"] for log in logs if log["event"] == "flow.on_reload_failed"] == ["default"]


def test_unknown_script_names_get_the_default_flow(library: tuple[FlowLibrary, Path]) -> None:
    flows, _ = library
    assert flows.get("no-such-script").flow.id == "reload-test"
    assert flows.get(None).flow.id == "reload-test"


def test_the_service_does_not_start_with_a_broken_flow(tmp_path: Path) -> None:
    path = tmp_path / "flow.yaml"
    write(path, "1.1", prompt="no.such.prompt")
    with pytest.raises(FlowError) as caught:
        FlowLibrary({"default": path}, tmp_path / "audio").load_all()
    assert str(path) in str(caught.value)


def build_audio(audio: Path, *prompts: tuple[str, str]) -> None:
    """A manifest of built audio for these (prompt, language) pairs, newer than the last one."""
    manifest = audio / "manifest.json"
    before = manifest.stat().st_mtime_ns if manifest.exists() else 0
    entries = [ManifestEntry(p, lang, (f"{lang}/{p}.wav",), 1.0, "espeak-ng", "v", "k", "h") for p, lang in prompts]
    audio.mkdir(exist_ok=True)
    Manifest(entries).save(manifest)
    os.utime(manifest, ns=(before + 1_000_000_000, before + 1_000_000_000))


def goodbye_built(tmp_path: Path) -> tuple[FlowLibrary, Path, Path]:
    """The flow saying goodbye in service, with that prompt's audio built: (flows, flow file, audio)."""
    audio, path = tmp_path / "audio", tmp_path / "flow.yaml"
    build_audio(audio, ("goodbye", "zh-CN"), ("goodbye", "en"))
    write(path, "1.1")
    flows = FlowLibrary({"default": path}, audio)
    flows.load_all()
    return flows, path, audio


def test_an_edit_playing_a_prompt_without_built_audio_is_served_once_its_audio_is_built(tmp_path: Path) -> None:
    flows, path, audio = goodbye_built(tmp_path)
    # as an optimized flow's new option prompts: texts written, audio not built yet. On a real
    # call Asterisk skips the missing file and the caller hears nothing where the option is.
    write(path, "1.2", prompt="welcome")
    ((_, errors),) = flows.reload_changed()
    assert [d.message for d in errors] == ["hangup 'goodbye': prompt 'welcome' has no built zh-CN, en audio"]
    assert flows.get(None).flow.version == "1.1"
    build_audio(audio, ("goodbye", "zh-CN"), ("goodbye", "en"), ("welcome", "zh-CN"), ("welcome", "en"))
    assert flows.reload_changed() == [("default", [])]
    assert flows.get(None).flow.version == "1.2"


def test_a_language_without_any_built_audio_needs_none_and_is_named(tmp_path: Path) -> None:
    # a site (or a developer) that built Mandarin only: English plays nothing anyway; but a site
    # whose English build failed would serve silence, so the service says so
    audio, path = tmp_path / "audio", tmp_path / "flow.yaml"
    build_audio(audio, ("goodbye", "zh-CN"))
    write(path, "1.1")
    with structlog.testing.capture_logs() as logs:
        FlowLibrary({"default": path}, audio).load_all()
    (warning,) = [log for log in logs if log["event"] == "flow.language_without_audio"]
    assert (warning["flow"], warning["languages"]) == ("reload-test", ["en"])
    # no audio at all (a development setup): nothing to say
    with structlog.testing.capture_logs() as logs:
        FlowLibrary({"default": path}, tmp_path / "no-audio").load_all()
    assert [log for log in logs if log["event"] == "flow.language_without_audio"] == []


def test_the_prompts_a_served_flow_plays_from_know_which_have_built_audio(tmp_path: Path) -> None:
    # what the personal menus lay out from: a shortcut sentence with no audio is not offered
    flows, _, _ = goodbye_built(tmp_path)
    prompts = flows.get(None).prompts
    assert prompts.heard("goodbye", "en") and not prompts.heard("welcome", "en")


def test_an_edit_made_while_the_flow_is_being_read_is_seen_at_the_next_poll(
    library: tuple[FlowLibrary, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    flows, path = library
    write(path, "1.2")
    real_load = flows_module.load_flow

    def load_then_edited(flow_path: Path, **options: object) -> object:
        flow = real_load(flow_path, **options)  # type: ignore[arg-type]
        write(path, "1.3")  # someone saves again while version 1.2 is being read
        return flow

    monkeypatch.setattr(flows_module, "load_flow", load_then_edited)
    flows.reload_changed()
    assert flows.get("default").flow.version == "1.2"
    monkeypatch.setattr(flows_module, "load_flow", real_load)
    flows.reload_changed()
    assert flows.get("default").flow.version == "1.3"


NEW_VERSION = """\
id: fix-test
version: "{version}"
languages: [en]
start: {start}
include: {include}
nodes:
  bye: {{kind: hangup, prompt: goodbye}}
"""
EXTRA = "nodes:\n  extra: {{kind: announcement, prompts: [{prompt}], {next}: bye}}\n"
GOOD_EXTRA = EXTRA.format(prompt="goodbye", next="next")


@pytest.mark.parametrize(
    ("broken", "fix"),
    [
        pytest.param(
            {"flows/extra.yaml": EXTRA.format(prompt="goodbye", next="nxt")},
            {"flows/extra.yaml": GOOD_EXTRA},
            id="a typo in the new include, then corrected",
        ),
        pytest.param({}, {"flows/extra.yaml": GOOD_EXTRA}, id="an include not written yet, then written"),
        pytest.param(
            {"flows/extra.yaml": EXTRA.format(prompt="thanks", next="next")},
            {"prompts/more.yaml": "prompts:\n  thanks: {en: Thank you.}\n"},
            id="a prompt no catalog file has, then a new catalog file",
        ),
    ],
)
def test_a_fix_in_a_file_only_the_rejected_version_uses_goes_into_service(
    tmp_path: Path, broken: dict[str, str], fix: dict[str, str]
) -> None:
    (tmp_path / "flows").mkdir()
    (tmp_path / "prompts").mkdir()
    save(tmp_path / "prompts/base.yaml", "prompts:\n  goodbye: {en: Goodbye.}\n")
    main = tmp_path / "flows/main.yaml"
    save(main, NEW_VERSION.format(version="1", start="bye", include="[]"))
    flows = FlowLibrary({"default": main}, tmp_path / "audio")
    flows.load_all()

    for name, text in broken.items():
        save(tmp_path / name, text)
    save(main, NEW_VERSION.format(version="2", start="extra", include="[extra.yaml]"))
    ((_, errors),) = flows.reload_changed()
    assert errors and flows.get(None).flow.version == "1"
    assert flows.reload_changed() == []  # nothing new: the rejection is not repeated

    for name, text in fix.items():
        save(tmp_path / name, text)
    assert flows.reload_changed() == [("default", [])]
    assert flows.get(None).flow.version == "2"
    assert flows.reload_changed() == []
