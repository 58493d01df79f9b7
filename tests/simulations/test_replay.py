"""Replay: history (contacts CSV, counts CSV, the live event stream) as a scenario; bad rows name file and line."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from router.config import loads
from router.errors import ConfigError
from simulations.engine import simulate
from simulations.replay import scenario_from_replay
from tests.router.harness import run
from tests.simulations.test_one_policy import ROUTING as LIVE_ROUTING
from tests.simulations.test_one_policy import live_assignments, traffic

OMNIROUTE = str(Path(sys.executable).with_name("omniroute"))
ROUTING = loads(
    """
channels: {voice: {capacity: 1, exclusive: true}, chat: {capacity: 3}}
queues:
  sales: {channels: [voice, chat], skills: {}}
  support: {channels: [voice], skills: {}}
agents:
  - {id: a1, skills: {}, channels: [voice, chat]}
""",
    "routing.yaml",
)


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return str(path)


def test_a_contacts_csv_replays_as_recorded(tmp_path):
    path = write(
        tmp_path,
        "contacts.csv",
        """
        arrived,queue,channel,handle,abandoned_after,id
        2026-03-02T08:00:05,sales,voice,120,,x1
        2026-03-02T08:31:00,support,voice,60,45,x2
        2026-03-02T08:10:00,sales,chat,300,,x3
        """,
    )
    s = scenario_from_replay(path, ROUTING)
    assert s.start == datetime(2026, 3, 2, 8, tzinfo=UTC)
    assert (s.interval, s.horizon) == (1800.0, 3600.0)
    arrivals = s.arrivals(np.random.default_rng(1))
    assert arrivals == s.arrivals(np.random.default_rng(2))  # recorded traffic does not depend on the seed
    assert [(a.id, a.at, a.queue, a.channel, a.handle) for a in arrivals] == [
        ("x1", 5.0, "sales", "voice", 120.0),
        ("x3", 600.0, "sales", "chat", 300.0),
        ("x2", 1860.0, "support", "voice", 60.0),
    ]
    assert math.isinf(arrivals[0].patience) and arrivals[2].patience == 45.0
    result = simulate(s.config, arrivals, s.shifts, seed=1, horizon=s.horizon)
    assert {r.id: r.answered for r in result.records} == {"x1": 5.0, "x3": 600.0, "x2": 1860.0}


def test_a_counts_csv_gives_exactly_those_counts_per_interval(tmp_path):
    path = write(
        tmp_path,
        "counts.csv",
        """
        interval_start,queue,count,aht
        2026-03-02T08:00:00,sales,40,200
        2026-03-02T08:30:00,sales,10,200
        2026-03-02T08:30:00,support,25,90
        """,
    )
    s = scenario_from_replay(path, ROUTING)
    for seed in (1, 2, 3):
        arrivals = s.arrivals(np.random.default_rng(seed))
        cells = {}
        for a in arrivals:
            key = (int(a.at // 1800), a.queue)
            cells[key] = cells.get(key, 0) + 1
        assert cells == {(0, "sales"): 40, (1, "sales"): 10, (1, "support"): 25}
    handles = [a.handle for seed in range(20) for a in s.arrivals(np.random.default_rng(seed)) if a.queue == "sales"]
    assert abs(np.mean(handles) - 200) < 20  # exponential with the row's aht
    assert [d.arrivals for d in s.demand()] == [40.0, 10.0, 25.0]


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("c.csv", "arrived,queue,channel,handle\n2026-03-02T08:00:00,sales,voice,120\n2026-03-02T08:01,sales,voice,-3",
         "c.csv:3:1: handle: expected a positive number of seconds, found '-3'"),
        ("c.csv", "arrived,queue,channel,handle\n2026-03-02T08:00:00,sales,fax,120\n",
         "c.csv:2:1: channel: queue 'sales' does not take 'fax'; it takes voice, chat"),
        ("c.csv", "arrived,queue,channel,handle\nyesterday,sales,voice,120\n",
         "c.csv:2:1: arrived: expected a date-time (2026-03-02T08:00:00) or seconds, found 'yesterday'"),
        ("c.csv", "arrived,queue,channel,handle\n0,sales,voice,120\n\n10,billing,voice,5\n",
         "c.csv:4:1: queue: unknown queue 'billing'; declared: sales, support"),
        ("c.csv", "arrived,queue,channel\n0,sales,voice\n",
         "c.csv:1:1: missing column handle; the header must name arrived, queue, channel, handle"),
        ("c.csv", "arrived,queue,channel,handle\n0,sales,voice\n", "c.csv:2:1: expected 4 cells, found 3"),
        ("c.csv", "arrived,queue,channel,handle,id\n0,sales,voice,60,k1\n5,sales,voice,60,\n9,sales,voice,60,k1\n",
         "c.csv:4:1: id: contact 'k1' is on line 2 already"),
        ("n.csv", "interval_start,count,aht\n2026-03-02T08:00:00,12,100\n",
         "n.csv:2:1: queue: empty, and routing has 2 queues"),
        ("n.csv", "interval_start,queue,count,aht\n2026-03-02T08:00:00,sales,many,100\n",
         "n.csv:2:1: count: expected a whole number >= 0, found 'many'"),
        ("n.csv", "interval_start,queue,count,aht\n2026-03-02T08:00:00,sales,3,100\n2026-03-02T08:10:00,sales,3,100\n",
         "n.csv:3:1: interval_start: not on a 1800-second boundary"),
        ("e.jsonl", '{"type": "contact.arrived", "at": "2026-03-02T08:00:00+00:00"}\n{"type": "nonsense"}\n',
         "e.jsonl:2:1: not an event (as omniroute events export writes them): 'nonsense' is not a valid EventType"),
        ("e.jsonl", '\n{"type": "contact.arrived", "at": "2026-03-02T08:00:00+00:00", "contact": {"id": "c", '
         '"queue": "sales", "channel": "email"}}\n',
         "e.jsonl:1:1: contact 'c': queue 'sales' or channel 'email' is not in the routing configuration"),
        ("e.jsonl", '{"type": "contact.arrived", "at": "2026-03-02T08:00:00+00:00", "contact": {"id": "c", '
         '"queue": "sales", "channel": "voice"}}\nnot json\n',
         "e.jsonl:2:1: not an event"),
    ],
)  # fmt: skip
def test_bad_replay_rows_name_file_and_line(tmp_path, name, text, expected):
    path = write(tmp_path, name, text)
    with pytest.raises(ConfigError) as caught:
        scenario_from_replay(path, ROUTING)
    message = str(caught.value)
    assert message.startswith(str(tmp_path)) and expected in message, message


def test_a_live_run_exported_and_replayed_gives_the_same_contacts_and_assignments(redis_url, tenant, tmp_path):
    """Real Redis: the live router serves contacts; ``omniroute events export`` writes the stream; the replay
    holds the same contacts (id, time, queue, channel, handle, customer) and routes them to the same agents."""
    yaml_text = f"tenant: {tenant}\n" + textwrap.dedent(LIVE_ROUTING.format(strategy="longest-idle"))
    config_path = tmp_path / "routing.yaml"
    config_path.write_text(yaml_text, encoding="utf-8")
    config = loads(yaml_text, str(config_path))
    arrivals = traffic(seed=3, n=30)
    began = datetime.now(UTC) - timedelta(seconds=1)
    live = run(lambda: live_assignments(config, redis_url, arrivals))
    out = tmp_path / "events.jsonl"
    done = subprocess.run(
        [OMNIROUTE, "events", "export", "--config", str(config_path), "--redis", redis_url,
         "--from", began.isoformat(), "--out", str(out)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = out.read_text().splitlines()
    assert sum('"contact.arrived"' in line for line in lines) == len(arrivals)
    scenario = scenario_from_replay(out, config)
    replayed = scenario.arrivals(np.random.default_rng(0))
    assert [(a.id, a.queue, a.channel, a.customer) for a in replayed] == [
        (a.id, a.queue, a.channel, a.customer) for a in arrivals
    ]
    for got, want in zip(replayed, arrivals, strict=True):
        assert got.at == pytest.approx(want.at, abs=1e-3)
        assert got.handle == pytest.approx(want.handle, abs=1e-3)
    assert sorted(s.agent for s in scenario.shifts) == ["a1", "a2", "a3", "a4"]
    result = simulate(scenario.config, replayed, scenario.shifts, seed=0, sample_every=0)
    assert result.assignments == live
