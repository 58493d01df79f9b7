"""The routing core runs compiled (mypyc), built from the sources in the tree.

The live router and the simulator import the same modules, so both run the compiled policy; these tests
fail when the build is missing (pure Python would run, several times slower) or stale.
"""

from __future__ import annotations

import subprocess
import sys

from router import compiled


def test_every_core_module_is_compiled_from_its_current_source():
    assert compiled.status() == dict.fromkeys(compiled.MODULES, "compiled")


def test_python_loads_the_compiled_modules_in_a_fresh_interpreter(tmp_path):
    # What `omniroute serve` and `omniroute simulate` import, from any directory: the extension, not the
    # .py beside it (and the library the extensions share).
    code = (
        "import router.policy, router.state, simulations.engine\n"
        "print(router.policy.__file__, router.state.__file__, simulations.engine.__file__)"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    out = run.stdout.split()
    assert len(out) == 3
    assert all(path.endswith(".so") for path in out), out
    assert all(compiled.loaded_from(m) == "extension" for m in compiled.MODULES)


def test_a_changed_source_makes_its_build_stale(tmp_path, monkeypatch):
    record = tmp_path / "sources.json"
    record.write_text(compiled.RECORD.read_text().replace('"router/policy.py": "', '"router/policy.py": "0'))
    monkeypatch.setattr(compiled, "RECORD", record)
    states = compiled.status()
    assert states["router.policy"] == "stale"
    assert states["router.state"] == "compiled"
    assert "router.policy" in compiled.stale_message(["router.policy"])


def test_another_checkouts_shared_library_first_on_the_path_makes_the_build_stale(tmp_path, monkeypatch):
    # The compiled modules' code lives in one shared library whose name is the same in every checkout: a
    # venv whose .pth names another checkout's build would run that code here. (The file is only located.)
    library = next(compiled.SHARED.glob("*__mypyc.*"))
    (tmp_path / library.name).write_bytes(b"another checkout's build")
    monkeypatch.delitem(sys.modules, library.name.split(".")[0], raising=False)  # as in a fresh interpreter
    monkeypatch.syspath_prepend(str(tmp_path))
    assert compiled.status() == dict.fromkeys(compiled.MODULES, "stale")
    monkeypatch.undo()
    assert compiled.status() == dict.fromkeys(compiled.MODULES, "compiled")
