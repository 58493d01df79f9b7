"""``omniroute check``, run as a user runs it: ``python -m router.cli check FILE`` in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def omniroute(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "router.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_accepts_the_shipped_file_and_summarises_it():
    result = omniroute("check", str(REPO / "routing.yaml"))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "OK (tenant marivia)" in out
    assert "queues (4)" in out
    for queue in ("sales", "support", "billing", "general"):
        assert f"\n  {queue} " in out
    assert "after 30s support>=4" in out  # escalation
    assert "max wait 180s, then overflow to general" in out
    assert "profiles (3)" in out
    assert "agents (12)" in out
    assert "by channel" in out
    assert result.stderr == ""


def test_check_reads_routing_yaml_from_the_working_directory_by_default():
    result = omniroute("check")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("routing.yaml: OK")


def test_check_reports_every_problem_with_file_and_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "channels:\n  voice: {capacity: -1}\nskills: [sales]\nqueues:\n  sales: {channel: voice, skills: {sales: 11}}\n"
    )
    result = omniroute("--config", str(bad), "check")
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0] == f"{bad}:2:21: channels.voice.capacity: expected an integer >= 1, found -1"
    assert lines[1] == f"{bad}:5:43: queues.sales.skills.sales: expected an integer from 1 to 10, found 11"
    assert lines[2] == f"{bad}: 2 problems"


def test_check_of_a_missing_file_says_so(tmp_path):
    result = omniroute("check", str(tmp_path / "nope.yaml"))
    assert result.returncode == 1
    assert "nope.yaml: no such file" in result.stderr
    result = omniroute("check", cwd=tmp_path)  # no ./routing.yaml there
    assert result.returncode == 1
    assert "routing.yaml: no such file" in result.stderr
