#!/usr/bin/env python3
"""Compile the routing core and the simulator loop with mypyc (see router/compiled.py for which and why).

    .venv/bin/python scripts/compile.py           # build what is missing or stale (quick when up to date)
    .venv/bin/python scripts/compile.py --check   # exit 1 if a build is missing or stale
    .venv/bin/python scripts/compile.py --pure    # remove the compiled build: pure Python runs (profilers, pdb)

Needs mypy (its mypyc compiler; the ``compile`` extra, installed by scripts/bootstrap.sh), a C compiler and
the Python headers. The C sources and objects go to ``build/``; the extension modules are put next to
their sources, and the SHA-256 of each source compiled is recorded in ``build/mypyc/sources.json``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from router.compiled import MODULES, RECORD, SHARED, digest, extensions_of, source_of, status  # noqa: E402

# The compiled modules share one library, a top-level module named <hash>__mypyc. It is moved to SHARED,
# and a .pth file in the venv's site-packages puts that folder on sys.path, so it imports from any directory.


def say(message: str) -> None:
    print(f"compile: {message}", file=sys.stderr)


def remove_build() -> None:
    for module in MODULES:
        for path in extensions_of(module):
            path.unlink()
    for folder in (ROOT, SHARED):
        for path in folder.glob("*__mypyc.*"):  # the shared library of the compiled modules
            path.unlink()
    RECORD.unlink(missing_ok=True)


def missing_tools() -> list[str]:
    missing = []
    if not (shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")):
        missing.append("a C compiler (Debian: apt-get install gcc)")
    if not (Path(sysconfig.get_paths()["include"]) / "Python.h").exists():
        missing.append(f"the Python headers for {sys.executable} (Debian: apt-get install python3-dev)")
    try:
        import mypyc  # noqa: F401
    except ImportError:
        missing.append("mypy's mypyc (pip install -e '.[compile]')")
    return missing


def build() -> int:
    missing = missing_tools()
    if missing:
        say("cannot compile the routing core: missing " + "; ".join(missing))
        return 1
    remove_build()
    sources = [str(source_of(m).relative_to(ROOT)) for m in MODULES]
    say(f"compiling {len(sources)} modules with mypyc (about half a minute)")
    run = subprocess.run(
        [sys.executable, "-m", "mypyc", *sources], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if run.returncode != 0:
        print(run.stdout[-6000:], run.stderr[-6000:], sep="\n", file=sys.stderr)
        say("mypyc failed (above); the sources must type-check with mypy for mypyc to compile them")
        remove_build()
        return 1
    SHARED.mkdir(parents=True, exist_ok=True)
    for path in ROOT.glob("*__mypyc.*"):
        path.rename(SHARED / path.name)
    pth = Path(site.getsitepackages()[0]) / "omniroute-mypyc.pth"
    pth.write_text(f"{SHARED}\n")
    if str(SHARED) not in sys.path:  # this process read the .pth before: the check below needs it too
        sys.path.insert(0, str(SHARED))
        importlib.invalidate_caches()
    RECORD.write_text(json.dumps({s: digest(ROOT / s) for s in sources}, indent=1) + "\n")
    bad = {m: s for m, s in status().items() if s != "compiled"}
    if bad:
        say(f"after the build, not compiled: {bad}")
        return 1
    say("done: " + ", ".join(MODULES))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="exit 1 if the build is missing or stale")
    mode.add_argument("--pure", action="store_true", help="remove the compiled build")
    args = parser.parse_args()
    if args.pure:
        remove_build()
        say("compiled build removed: pure Python runs")
        return 0
    current = status()
    if all(s == "compiled" for s in current.values()):  # (compiled: the shared library is this tree's too)
        if not args.check:
            say("compiled build up to date")
        return 0
    if args.check:
        say("not up to date: " + ", ".join(f"{m} {s}" for m, s in current.items() if s != "compiled"))
        return 1
    return build()


if __name__ == "__main__":
    sys.exit(main())
