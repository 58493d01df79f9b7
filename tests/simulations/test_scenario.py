"""Scenario files: validated like routing.yaml (file:line:col and key path), and traffic that follows them."""

from __future__ import annotations

import math
import textwrap

import numpy as np
import pytest

from router.config import loads
from router.errors import ConfigError
from simulations.scenario import Scenario, load_scenario

ROUTING = loads(
    """
channels: {voice: {capacity: 1, exclusive: true}, chat: {capacity: 3}}
skills: [sales, en]
queues:
  sales: {channels: [voice, chat], skills: {sales: 3}}
  support: {channels: [voice], skills: {}}
agents:
  - {id: a1, skills: {sales: 5}, channels: [voice, chat]}
""",
    "routing.yaml",
)

GOOD = """\
seed: 3
interval: 900
start: 2026-03-02T08:00:00
intervals: 8
traffic:
  - queue: sales
    channel: voice
    rates: [100, 200]
    repeat: true
    handle: {distribution: lognormal, mean: 240, sd: 120}
    patience: {distribution: exponential, mean: 90}
  - queue: support
    counts: [5, 0, 7]
    handle: 60
rosters:
  - name: gen
    count: 4
    skills: {sales: 6, en: 3}
    channels: [voice, chat]
    from: "08:00"
    to: "09:30"
    breaks: [{from: "08:30", to: "08:45"}]
  - agents: [a1]
    from: "09:00"
    to: "10:00"
"""


def write(tmp_path, text: str, name: str = "scenario.yaml") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return str(path)


def problems(tmp_path, text: str) -> list[str]:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_scenario(path, ROUTING)
    return [str(p) for p in caught.value.problems]


def test_a_scenario_loads_with_its_rosters_and_horizon(tmp_path):
    s = load_scenario(write(tmp_path, GOOD), ROUTING)
    assert isinstance(s, Scenario)
    assert (s.seed, s.interval, s.horizon, s.intervals) == (3, 900.0, 7200.0, 8)
    assert sorted(s.config.agents) == ["a1", "gen-1", "gen-2", "gen-3", "gen-4"]
    assert s.config.agents["gen-2"].skills == {"sales": 6, "en": 3}
    gen = [x for x in s.shifts if x.agent == "gen-1"]
    assert [(x.start, x.end) for x in gen] == [(0.0, 5400.0)]
    assert [(b.start, b.end) for b in gen[0].breaks] == [(1800.0, 2700.0)]
    assert [(x.start, x.end) for x in s.shifts if x.agent == "a1"] == [(3600.0, 7200.0)]
    assert s.streams[0].per_interval == (100, 200) * 4  # repeated over the horizon
    assert s.streams[1].per_interval == (5, 0, 7, 0, 0, 0, 0, 0)  # the rest without traffic


def test_arrivals_follow_the_rates_and_distributions(tmp_path):
    s = load_scenario(write(tmp_path, GOOD), ROUTING)
    per_interval = np.zeros(8)
    handles, patience = [], []
    reps = 20
    for seed in range(reps):
        arrivals = s.arrivals(np.random.default_rng(seed))
        for a in arrivals:
            if a.queue == "sales":
                per_interval[int(a.at // 900)] += 1
                handles.append(a.handle)
                patience.append(a.patience)
        support = [a for a in arrivals if a.queue == "support"]
        assert len(support) == 12 and all(a.handle == 60 and math.isinf(a.patience) for a in support)
        assert sorted(int(a.at // 900) for a in support) == [0] * 5 + [2] * 7  # exact counts, in their interval
    means = per_interval / reps
    for i, mean in enumerate(means):  # Poisson(100 or 200), mean of 20: sd 2.2 or 3.2
        assert abs(mean - (100, 200)[i % 2]) < 15
    assert abs(np.mean(handles) - 240) < 15 and abs(np.std(handles) - 120) < 20
    assert abs(np.mean(patience) - 90) < 8
    assert all(a.at < 7200 for a in s.arrivals(np.random.default_rng(1)))


def test_the_same_seed_gives_the_same_traffic_whatever_the_strategy(tmp_path):
    plain = load_scenario(write(tmp_path, GOOD), ROUTING)
    variant = load_scenario(write(tmp_path, GOOD + "strategy: most-skilled\n", "v.yaml"), ROUTING)
    assert variant.config.queues["sales"].strategy == "most-skilled"
    assert plain.config.queues["sales"].strategy == "longest-idle"
    first = plain.arrivals(np.random.default_rng(11))
    assert first == variant.arrivals(np.random.default_rng(11))
    assert first != plain.arrivals(np.random.default_rng(12))


def test_empirical_handle_times_from_a_csv_file(tmp_path):
    (tmp_path / "times.csv").write_text("seconds\n100\n200\n300\n", encoding="utf-8")
    handle = "{distribution: empirical, file: times.csv}"
    text = f"intervals: 2\ntraffic:\n  - {{queue: support, rates: [50], handle: {handle}}}"
    s = load_scenario(write(tmp_path, text), ROUTING)
    handles = {a.handle for a in s.arrivals(np.random.default_rng(0))}
    assert handles == {100.0, 200.0, 300.0}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("traffic:\n  - {queue: sale, rates: [1], handle: 60}\n",
         "scenario.yaml:2:13: traffic[0].queue: unknown queue 'sale' (did you mean 'sales'?)"),
        ("traffic:\n  - {queue: support, channel: chat, rates: [1], handle: 60}\n",
         "scenario.yaml:2:31: traffic[0].channel: queue 'support' does not take channel 'chat'"),
        ("interval: 600\ntraffic:\n  - {queue: support, rates: [1], handle: 60}\n",
         "scenario.yaml:1:11: interval: expected 900 or 1800 (seconds), found 600"),
        ("traffic:\n  - {queue: support, rates: [1], handle: {distribution: lognormal, mean: 60}}\n",
         "scenario.yaml:2:42: traffic[0].handle: missing required key 'sd' for lognormal"),
        ("traffic:\n  - {queue: support, rates: [1], handle: {distribution: weibull, mean: 60}}\n",
         "traffic[0].handle.distribution: expected one of exponential, lognormal, gamma, empirical, fixed"),
        ("traffic:\n  - {queue: support, rates: [1, -2], handle: 60}\n",
         "scenario.yaml:2:33: traffic[0].rates[1]: expected an expected number of arrivals >= 0, found -2"),
        ("traffic:\n  - {queue: support, rates: [1], handle: 60, patince: 3}\n",
         "scenario.yaml:2:46: traffic[0].patince: unknown key 'patince' (did you mean 'patience'?)"),
        ("traffic:\n  - {queue: support, rates: [1], handle: 60}\nrosters:\n"
         "  - {name: x, count: 2, skills: {salse: 3}, channels: [voice], from: '08:00', to: '09:00'}\n",
         "scenario.yaml:4:34: rosters[0].skills.salse: unknown skill 'salse' (did you mean 'sales'?)"),
        ("traffic:\n  - {queue: support, rates: [1], handle: 60}\nrosters:\n  - {agents: [a9], from: '8', to: '9'}\n",
         "scenario.yaml:4:15: rosters[0].agents[0]: unknown agent 'a9'"),
        ("traffic:\n  - {queue: support, rates: [1], handle: 60}\nrosters:\n"
         "  - {agents: [a1], from: '25:00', to: '09:00'}\n",
         "scenario.yaml:4:26: rosters[0].from: expected a time of day such as 08:00"),
        ("seed: x\ntraffic:\n  - {queue: support, rates: [1], handle: 60}\n",
         "scenario.yaml:1:7: seed: expected an integer >= 0, found 'x'"),
        ("traffic: [\n", "scenario.yaml:2:1: invalid YAML"),
    ],
)  # fmt: skip
def test_bad_scenarios_name_file_line_and_key_path(tmp_path, text, expected):
    found = problems(tmp_path, text)
    assert any(expected in p for p in found), found
    assert all(p.startswith(str(tmp_path)) for p in found)


def test_every_problem_is_reported_in_one_pass(tmp_path):
    text = "interval: 60\nstrategy: fastest\ntraffic:\n  - {queue: nope, rates: [1], handle: -1}\n"
    found = problems(tmp_path, text)
    assert len(found) == 4, found
    assert [p.split(":")[1] for p in found] == ["1", "2", "4", "4"]


def test_the_simulation_section_of_routing_yaml(tmp_path):
    text = (tmp_path / "r.yaml")
    text.write_text(
        "channels: {voice: {capacity: 1}}\nqueues: {q: {channels: [voice], skills: {}}}\n"
        "agents: [{id: a, skills: {}, channels: [voice]}]\n"
        "simulation:\n  intervals: 2\n"
        "  traffic: [{queue: q, rates: [4], handle: {distribution: gamma, mean: 60, sd: 30}}]\n",
        encoding="utf-8",
    )
    from router.config import load

    config = load(text)
    assert isinstance(config.simulation, Scenario) and config.simulation.horizon == 3600
    text.write_text(text.read_text().replace("sd: 30", "sd: 30, values: [1]"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"r.yaml:6:\d+: simulation.traffic\[0\].handle.values: 'values' does not"):
        load(text)
