"""Rendering the text prompts of routing.yaml to WAV: espeak-ng speaks, sox makes it 8 kHz mono 16-bit.

``omniroute prompts build`` (:mod:`ivr.commands`) calls :func:`build`. Each text prompt becomes
``<prompts_dir>/<language>/<name>.wav``; with announcements configured, so do the numbers 1..99 (``number_N``,
spoken by espeak-ng in each language) that :mod:`ivr.announce` builds sentences from. A prompt whose text,
voice and format did not change since the last build is skipped (hashes in ``<prompts_dir>/.hashes.json``).
Without ``ivr.music_on_hold`` a music-on-hold loop is made with sox's synth at ``<prompts_dir>/music_on_hold.wav``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ivr.config import NUMBER_PROMPTS, IvrConfig
from router.errors import IvrError

FORMAT = ("-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer")  # sox output options: telephone audio
MOH_SECONDS = 30
# A plucked C major arpeggio (3 s, made by sox's synth), repeated to MOH_SECONDS.
MOH_NOTES = (("0.6", "C4"), ("0.6", "E4"), ("0.6", "G4"), ("1.2", "C5"))
HASHES = ".hashes.json"
INSTALL = "install them with `scripts/bootstrap.sh espeak-ng sox` (Debian packages espeak-ng and sox)"


class ToolMissing(IvrError):
    """espeak-ng or sox is not installed."""


@dataclass(frozen=True, slots=True)
class Render:
    """One WAV to make: ``text`` spoken in ``language``."""

    name: str
    language: str
    text: str
    out: Path

    def digest(self) -> str:
        return hashlib.sha256("\0".join((self.language, self.text, *FORMAT)).encode()).hexdigest()


@dataclass
class BuildReport:
    rendered: list[str] = field(default_factory=list)  # "<language>/<name>"
    skipped: list[str] = field(default_factory=list)  # unchanged since the last build
    music_on_hold: str = ""  # the file made, if one was


def renders(ivr: IvrConfig) -> list[Render]:
    """Every WAV the config's text prompts (and announcement numbers) need."""
    base = Path(ivr.prompts_dir)
    out = []
    for prompt in ivr.prompts.values():
        for language, text in prompt.text.items():
            out.append(Render(prompt.name, language, text, base / language / f"{prompt.name}.wav"))
    if ivr.announce is not None:
        for language in ivr.languages:
            for n in range(1, NUMBER_PROMPTS + 1):
                out.append(Render(f"number_{n}", language, str(n), base / language / f"number_{n}.wav"))
    return out


def require_tools() -> tuple[str, str]:
    """The paths of espeak-ng and sox; :class:`ToolMissing` naming what to install if either is absent."""
    espeak, sox = shutil.which("espeak-ng"), shutil.which("sox")
    missing = [name for name, path in (("espeak-ng", espeak), ("sox", sox)) if path is None]
    if missing:
        raise ToolMissing(f"prompts build needs {' and '.join(missing)}, not found on PATH: {INSTALL}")
    return espeak, sox


def build(ivr: IvrConfig, *, force: bool = False, workers: int = 2) -> BuildReport:
    """Render every changed text prompt (all of them with ``force``) and the default music on hold."""
    espeak, sox = require_tools()
    base = Path(ivr.prompts_dir)
    base.mkdir(parents=True, exist_ok=True)
    hashes_file = base / HASHES
    try:
        hashes = json.loads(hashes_file.read_text()) if hashes_file.is_file() else {}
    except (OSError, ValueError):
        hashes = {}
    report = BuildReport()
    todo = []
    for job in renders(ivr):
        key = f"{job.language}/{job.name}"
        if not force and hashes.get(key) == job.digest() and job.out.is_file():
            report.skipped.append(key)
        else:
            todo.append(job)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for job in pool.map(lambda j: _render(espeak, sox, j), todo):
            key = f"{job.language}/{job.name}"
            hashes[key] = job.digest()
            report.rendered.append(key)
            hashes_file.write_text(json.dumps(hashes, indent=1, sort_keys=True))
    if not ivr.music_on_hold:
        moh = base / "music_on_hold.wav"
        if force or not moh.is_file():
            _music_on_hold(sox, moh)
            report.music_on_hold = str(moh)
    return report


def _render(espeak: str, sox: str, job: Render) -> Render:
    job.out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="omniroute-prompt-") as tmp:
        raw = Path(tmp) / "espeak.wav"
        _run([espeak, "-v", job.language, "-w", str(raw), job.text])
        part = job.out.with_suffix(".part.wav")
        _run([sox, str(raw), *FORMAT, str(part)])
        part.replace(job.out)  # a reader never sees half a file
    return job


def _music_on_hold(sox: str, out: Path) -> None:
    chain: list[str] = []
    for seconds, note in MOH_NOTES:
        chain += [":", "synth", seconds, "pluck", note] if chain else ["synth", seconds, "pluck", note]
    pattern_seconds = sum(float(s) for s, _ in MOH_NOTES)
    with tempfile.TemporaryDirectory(prefix="omniroute-moh-") as tmp:
        pattern = Path(tmp) / "pattern.wav"
        _run([sox, "-n", *FORMAT, str(pattern), *chain])
        part = out.with_suffix(".part.wav")
        _run([sox, str(pattern), str(part), "vol", "0.5", "repeat", str(round(MOH_SECONDS / pattern_seconds) - 1)])
        part.replace(out)


def _run(argv: list[str]) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tool = Path(argv[0]).name
        raise IvrError(f"{tool} failed (exit {result.returncode}): {result.stderr.strip() or result.stdout.strip()}")
