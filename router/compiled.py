"""The modules compiled to C with mypyc, and whether the compiled build in the tree matches the sources.

The routing core (skills, configuration model, lifecycle table, indexed state, policy) and the
simulator's loop are compiled by ``scripts/compile.py`` (run by ``scripts/bootstrap.sh``, so by
``make run`` and ``make test``) into extension modules next to their sources; Python imports an
extension module before a ``.py`` of the same name, so the live router and the simulator both run the
compiled policy. The sources stay the reference: a build is *stale* when a source changed since it
was compiled (its SHA-256 differs from the one recorded in ``build/mypyc/sources.json``), and a stale
build must never run.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RECORD = ROOT / "build" / "mypyc" / "sources.json"  # source path (relative to ROOT) -> SHA-256 when compiled
SHARED = RECORD.parent / "lib"  # the library the compiled modules share (on sys.path through a .pth file)

MODULES = (
    "skills.model",
    "router.lifecycle",
    "router.config.model",
    "router.state",
    "router.policy",
    "simulations.model",
    "simulations.lifecycle",
    "simulations.engine",
)


def source_of(module: str) -> Path:
    return ROOT / (module.replace(".", "/") + ".py")


def extensions_of(module: str) -> list[Path]:
    """The extension files built for ``module`` (none when it runs as pure Python)."""
    source = source_of(module)
    stem = source.with_suffix("")
    return [p for suffix in importlib.machinery.EXTENSION_SUFFIXES if (p := Path(f"{stem}{suffix}")).exists()]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def status() -> dict[str, str]:
    """Per module: ``compiled`` (an extension built from the current source), ``stale`` (an extension
    built from another version of the source) or ``pure`` (no extension: the ``.py`` runs)."""
    try:
        recorded = json.loads(RECORD.read_text())
    except (OSError, ValueError):
        recorded = {}
    ours = _shared_library_is_ours()
    result = {}
    for module in MODULES:
        if not extensions_of(module):
            result[module] = "pure"
            continue
        source = source_of(module)
        fresh = recorded.get(str(source.relative_to(ROOT))) == digest(source)
        result[module] = "compiled" if fresh and ours else "stale"
    return result


def _shared_library_is_ours() -> bool:
    """Whether the library the compiled modules share is found on sys.path in this tree's build.

    The modules' code is in that library, under a name made from the module list, the same in every
    checkout: a venv whose .pth names another checkout's build would run that checkout's code here.
    """
    libraries = sorted(SHARED.glob("*__mypyc.*"))
    if not libraries:
        return False
    spec = importlib.util.find_spec(libraries[0].name.split(".")[0])
    return spec is not None and spec.origin is not None and Path(spec.origin).resolve() == libraries[0].resolve()


def loaded_from(module: str) -> str:
    """Where Python loads ``module`` from: ``extension`` or ``source`` (without importing it)."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise ImportError(f"no module {module}")
    return "extension" if spec.origin.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)) else "source"


def stale_message(modules: list[str]) -> str:
    return (
        f"compiled module(s) {', '.join(modules)} were built from older sources (or Python finds another "
        "checkout's build first): run `scripts/bootstrap.sh` "
        "(or `.venv/bin/python scripts/compile.py`) to rebuild them, or `scripts/compile.py --pure` to remove "
        "the compiled build and run pure Python"
    )
