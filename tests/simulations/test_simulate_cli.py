"""``omniroute simulate`` and ``omniroute plan staffing`` end to end, as a planner runs them."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

OMNIROUTE = str(Path(sys.executable).with_name("omniroute"))
ROUTING = """\
tenant: sim
channels: {voice: {capacity: 1, exclusive: true}}
skills: [sales]
queues:
  sales: {channels: [voice], skills: {sales: 3}, service_level: {target_seconds: 20, percent: 80}}
agents:
  - {id: a1, skills: {sales: 5}, channels: [voice]}
"""
SCENARIO = """\
seed: 5
interval: 900
start: 2026-03-02T08:00:00
intervals: 2
traffic:
  - {queue: sales, rates: [30, 60], handle: {distribution: exponential, mean: 120}}
rosters:
  - {name: gen, count: 8, skills: {sales: 5}, channels: [voice], from: "08:00", to: "08:30"}
"""


def omniroute(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([OMNIROUTE, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def files(tmp_path: Path, scenario: str = SCENARIO) -> Path:
    (tmp_path / "routing.yaml").write_text(ROUTING, encoding="utf-8")
    (tmp_path / "scenario.yaml").write_text(scenario, encoding="utf-8")
    return tmp_path


def test_simulate_writes_the_report(tmp_path):
    cwd = files(tmp_path)
    done = omniroute("simulate", "--scenario", "scenario.yaml", "--replications", "3", "--workers", "2",
                     "--out", "out", cwd=cwd)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "3 replications" in done.stdout and "report: out/report.html" in done.stdout
    out = cwd / "out"
    for name in ("kpis.csv", "kpis.json", "wait_cdf.png", "service_level.png", "queue_length.png", "report.html"):
        assert (out / name).stat().st_size > 0, name
    document = json.loads((out / "kpis.json").read_text())
    assert document["seeds"] == [5, 6, 7] and document["intervals"] >= 2
    rows = list(csv.DictReader((out / "kpis.csv").open()))
    overall = next(r for r in rows if r["scope"] == "all" and r["interval"] == "all")
    assert 70 < float(overall["offered_mean"]) < 110  # 30 + 60 expected


def test_a_strategy_override_and_a_replay_run_too(tmp_path):
    cwd = files(tmp_path)
    (cwd / "counts.csv").write_text("interval_start,count,aht\n2026-03-02T08:00:00,20,100\n", encoding="utf-8")
    done = omniroute("simulate", "--replay", "counts.csv", "--replications", "2", "--workers", "1",
                     "--strategy", "most-skilled", "--out", "r", cwd=cwd)  # fmt: skip
    assert done.returncode == 0, done.stderr
    document = json.loads((cwd / "r" / "kpis.json").read_text())
    overall = next(r for r in document["rows"] if r["scope"] == "all" and r["interval"] == "all")
    assert overall["values"]["offered"]["mean"] == 20  # exact counts from the file


def test_a_bad_scenario_is_reported_with_file_and_line(tmp_path):
    cwd = files(tmp_path, SCENARIO.replace("queue: sales, rates", "queue: sles, rates"))
    done = omniroute("simulate", "--scenario", "scenario.yaml", "--replications", "1", "--out", "out", cwd=cwd)
    assert done.returncode == 1
    assert "scenario.yaml:6:13: traffic[0].queue: unknown queue 'sles' (did you mean 'sales'?)" in done.stderr
    assert not (cwd / "out").exists()


def test_plan_staffing_prints_and_writes_the_table(tmp_path):
    cwd = files(tmp_path)
    done = omniroute("plan", "staffing", "--scenario", "scenario.yaml", "--replications", "4", "--workers", "2",
                     "--out", "plan", cwd=cwd)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["interval", "queue", "erlang", "simulated", "gap", "service", "level"]
    body = [line.split() for line in lines[1:3]]
    assert [(b[0], b[1], b[2]) for b in body] == [("2026-03-02", "08:00", "sales"), ("2026-03-02", "08:15", "sales")]
    erlang = [int(b[3]) for b in body]
    assert erlang[1] > erlang[0] > 0  # twice the traffic in the second quarter hour
    assert "every interval meets its target" in done.stdout
    rows = list(csv.DictReader((cwd / "plan" / "staffing.csv").open()))
    assert [int(r["erlang_agents"]) for r in rows] == erlang
    assert all(float(r["service_level_lower"]) >= 0.8 for r in rows)
    assert json.loads((cwd / "plan" / "staffing.json").read_text())["met"] is True
