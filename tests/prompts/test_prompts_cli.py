"""`ivr prompts build | check | list` with the real espeak-ng and sox."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from prompt_fixtures import WriteCatalog, soxi

from ivr_engine.cli.main import main
from ivr_engine.prompts.manifest import Manifest

DYNAMIC = Path(__file__).parents[2] / "prompts" / "dynamic.yaml"


def ivr(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["prompts", *map(str, args)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_build_then_nothing_to_do_then_check_and_list(tmp_path: Path, write_catalog: WriteCatalog) -> None:
    write_catalog({"hotline.welcome": {"zh-CN": "欢迎致电。", "en": "Welcome."}})
    prompts, out = tmp_path / "prompts", tmp_path / "audio"

    code, output = ivr("build", "--prompts", prompts, "--out", out, "--engine", "espeak")
    assert code == 0
    assert output.startswith("Built 2, up to date 0, removed 0, failed 0 in ")

    code, output = ivr("build", "--prompts", prompts, "--out", out, "--engine", "espeak")
    assert (code, output) == (0, f"All 2 prompt recordings in {out} are up to date; nothing to build.\n")

    assert ivr("check", "--prompts", prompts, "--out", out, "--engine", "espeak") == (
        0, "2 up to date, 0 to build, 0 stale\n",
    )  # fmt: skip
    code, output = ivr("list", "--out", out)
    assert [line.split("\t")[:2] for line in output.splitlines()] == [
        ["en", "hotline.welcome"],
        ["zh-CN", "hotline.welcome"],
    ]

    write_catalog({"hotline.welcome": {"en": "Welcome to the hotline."}})
    code, output = ivr("check", "--prompts", prompts, "--out", out, "--engine", "espeak")
    assert code == 1
    assert output.splitlines() == [
        "to build: hotline.welcome (en)", "stale: hotline.welcome (zh-CN)", "0 up to date, 1 to build, 1 stale",
    ]  # fmt: skip


def test_bad_catalog_is_reported_with_its_place(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("prompts:\n  hotline.welcome:\n    en: [1, 2]\n")
    code, output = ivr("build", "--prompts", tmp_path, "--out", tmp_path / "audio", "--engine", "espeak")
    assert code == 1
    assert f"{tmp_path / 'bad.yaml'}:3:" in output
    assert "Traceback" not in output


def test_broken_manifest_is_reported_with_its_place(tmp_path: Path, write_catalog: WriteCatalog) -> None:
    write_catalog({"hotline.welcome": {"en": "Welcome."}})
    (tmp_path / "audio").mkdir()
    (tmp_path / "audio" / "manifest.json").write_text("{")
    code, output = ivr("build", "--prompts", tmp_path / "prompts", "--out", tmp_path / "audio", "--engine", "espeak")
    assert code == 1
    assert f"Error: {tmp_path / 'audio' / 'manifest.json'}:1:2: not JSON" in output


def test_failed_prompt_is_named_and_the_exit_code_says_so(tmp_path: Path, write_catalog: WriteCatalog) -> None:
    write_catalog({"hotline.welcome": {"en": "Welcome.", "qaa": "Welcome."}})
    code, output = ivr("build", "--prompts", tmp_path / "prompts", "--out", tmp_path / "audio", "--engine", "espeak")
    assert code == 1
    assert "error: hotline.welcome (qaa): espeak-ng: no voice for qaa" in output
    assert "Built 1, up to date 0, removed 0, failed 1" in output


def test_every_dynamic_piece_builds(tmp_path: Path) -> None:
    """All pieces of prompts/dynamic.yaml speak, in both languages, in every format asked for."""
    out = tmp_path / "audio"
    code, output = ivr("build", "--prompts", DYNAMIC, "--out", out, "--engine", "espeak", "--format", "sln")
    assert code == 0, output
    manifest = Manifest.load(out)
    assert len(manifest.entries()) > 100
    for entry in manifest.entries():
        assert entry.files == (f"{entry.language}/{entry.prompt_id}.wav", f"{entry.language}/{entry.prompt_id}.sln")
        assert 0.15 < entry.duration < 4
    assert soxi(out / "zh-CN" / "num.yao.wav", "-r") == "8000"
