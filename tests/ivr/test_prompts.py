"""`omniroute prompts build` with the real espeak-ng and sox: 8 kHz mono 16-bit WAVs per language, rebuilt only
when their text changes, and a music-on-hold loop. Fails (never skips) when either tool is missing."""

from __future__ import annotations

import array
import wave
from pathlib import Path

import pytest

from ivr.config import NUMBER_PROMPTS
from ivr.prompts import ToolMissing, build, renders, require_tools
from router.cli import main
from router.config.loader import load
from tests.ivr.yamls import BASE

IVR = """\
ivr:
  languages: [en, pt]
  prompts_dir: voice/prompts
  prompts:
    welcome: {en: Welcome to Marivia Telecom., pt: Bem-vindo à Marivia Telecom.}
    bye: {en: Goodbye., pt: Adeus.}
  flows:
    main:
      start: welcome
      nodes:
        welcome: {type: play, prompt: welcome, next: bye}
        bye: {type: hangup, prompt: bye}
"""


@pytest.fixture
def routing(tmp_path: Path) -> Path:
    try:
        require_tools()
    except ToolMissing as exc:
        pytest.fail(str(exc))  # a missing tool is a failure with the fix in the message, never a skip
    path = tmp_path / "routing.yaml"
    path.write_text(BASE + IVR, encoding="utf-8")
    return path


def read(path: Path) -> tuple[wave._wave_params, array.array]:
    with wave.open(str(path), "rb") as w:
        params = w.getparams()
        samples = array.array("h", w.readframes(params.nframes))
    return params, samples


def test_build_renders_every_prompt_per_language_as_8khz_mono_16bit(routing: Path, capsys):
    assert main(["prompts", "build", "--config", str(routing)]) == 0
    assert "4 rendered, 0 unchanged" in capsys.readouterr().out
    base = routing.parent / "voice" / "prompts"
    audio = {}
    for language in ("en", "pt"):
        for name in ("welcome", "bye"):
            params, samples = read(base / language / f"{name}.wav")
            assert (params.nchannels, params.framerate, params.sampwidth) == (1, 8000, 2)
            assert params.nframes > 0.3 * 8000, f"{language}/{name} is too short to be speech"
            assert max(abs(s) for s in samples) > 1000, f"{language}/{name} is silent"
            audio[language, name] = samples
    assert audio["en", "welcome"] != audio["pt", "welcome"]  # each language is spoken in its own voice
    assert read(base / "en" / "welcome.wav")[0].nframes > read(base / "en" / "bye.wav")[0].nframes
    moh, samples = read(base / "music_on_hold.wav")
    assert (moh.nchannels, moh.framerate, moh.sampwidth) == (1, 8000, 2)
    assert 25 <= moh.nframes / 8000 <= 35 and max(abs(s) for s in samples) > 1000


def test_an_unchanged_prompt_is_not_rendered_again(routing: Path):
    ivr = load(routing).ivr
    first = build(ivr)
    assert sorted(first.rendered) == ["en/bye", "en/welcome", "pt/bye", "pt/welcome"]
    base = Path(ivr.prompts_dir)
    before = {p: p.stat().st_mtime_ns for p in base.rglob("*.wav")}
    again = build(ivr)
    assert again.rendered == [] and len(again.skipped) == 4 and again.music_on_hold == ""
    routing.write_text(routing.read_text().replace("pt: Adeus.", "pt: Até logo."), encoding="utf-8")
    changed = build(load(routing).ivr)
    assert changed.rendered == ["pt/bye"]
    after = {p: p.stat().st_mtime_ns for p in base.rglob("*.wav")}
    assert [p.relative_to(base).as_posix() for p in after if after[p] != before[p]] == ["pt/bye.wav"]
    (base / "en" / "bye.wav").unlink()  # a deleted WAV is made again even though its text is the same
    assert build(load(routing).ivr).rendered == ["en/bye"]


def test_announcements_need_the_numbers_in_every_language():
    from tests.ivr.yamls import load_ivr

    jobs = renders(load_ivr().ivr)
    numbers = [j for j in jobs if j.name.startswith("number_")]
    assert len(numbers) == 2 * NUMBER_PROMPTS
    assert {(j.language, j.text) for j in numbers if j.name == "number_17"} == {("en", "17"), ("pt", "17")}


def test_missing_tools_give_a_clear_error(routing: Path, tmp_path: Path, monkeypatch, capsys):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert main(["prompts", "build", "--config", str(routing)]) == 1
    err = capsys.readouterr().err
    assert "needs espeak-ng and sox, not found on PATH" in err
    assert "scripts/bootstrap.sh espeak-ng sox" in err
