"""KPIs from hand-built RunResults with answers worked out by hand, CIs, and the report files."""

from __future__ import annotations

import base64
import csv
import io
import json
import math
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from router.config import loads
from simulations.kpis import (
    ALL,
    KPIS,
    Kpi,
    Scope,
    ScopeKind,
    handling_load,
    staffed_from_shifts,
    summarize,
    t975,
)
from simulations.model import Break, ContactRecord, RunResult, Shift
from simulations.progress import Progress
from simulations.report import CSV_COLUMNS, PLOTS, write_report

CONFIG = loads(
    """
tenant: t
channels: {voice: {capacity: 1, exclusive: true}, chat: {capacity: 2}}
skills: [s, b]
queues:
  sales: {channels: [voice, chat], skills: {s: 1}, service_level: {target_seconds: 20, percent: 80}}
  support: {channels: [voice], skills: {b: 1}, service_level: {target_seconds: 60, percent: 90}}
agents:
  - {id: a1, skills: {s: 5}, channels: [voice, chat]}
  - {id: a2, skills: {s: 5, b: 5}, channels: [voice]}
  - {id: a3, skills: {s: 5, b: 5}, channels: [voice]}
""",
    source="test.yaml",
)
SALES = Scope(kind=ScopeKind.QUEUE, queue="sales")
SUPPORT = Scope(kind=ScopeKind.QUEUE, queue="support")
PNG = b"\x89PNG\r\n\x1a\n"


def rec(id: str, arrived: float, *, queue: str = "sales", channel: str = "voice", **outcome: float) -> ContactRecord:
    return ContactRecord(id=id, queue=queue, channel=channel, arrived=arrived, **outcome)


def four_contacts(seed: int = 1) -> RunResult:
    """Waits 5, 10 and 30 s answered and one abandoned after 25 s, in sales (target 20 s), in the first hour."""
    return RunResult(
        seed=seed,
        horizon=3600.0,
        records=[
            rec("c1", 0.0, answered=5.0, ended=65.0),
            rec("c2", 100.0, answered=110.0, ended=170.0),
            rec("c3", 200.0, answered=230.0, ended=290.0),
            rec("c4", 300.0, abandoned=325.0),
        ],
        agent_busy={"a1": 1800.0, "a2": 1000.0, "a3": 2000.0},
        agent_staffed={"a1": 3600.0, "a2": 2000.0, "a3": 2000.0},
        queue_length=[(0.0, "sales", 2), (600.0, "sales", 0), (1200.0, "sales", 4), (0.0, "support", 0)],
    )


def mean(table, scope: Scope, kpi: str, interval: int | None = None) -> float | None:
    return table.row(scope, interval).values[kpi].mean


def test_kpis_of_four_contacts_by_hand():
    table = summarize([four_contacts()], CONFIG, interval=3600)
    v = {k: mean(table, SALES, k) for k in KPIS}
    assert (v["offered"], v["answered"], v["abandoned"], v["overflowed"]) == (4, 3, 1, 0)
    assert v["sl_answered"] == pytest.approx(2 / 3)  # 5 and 10 of 5, 10, 30
    assert v["sl_all"] == pytest.approx((2 + 0) / (3 + 1))  # the abandon at 25 s is not within 20 s
    assert v["asa"] == pytest.approx((5 + 10 + 30) / 3)
    # linear interpolation between order statistics: p90 at rank 0.9 * 2 = 1.8, p99 at 1.98
    assert v["wait_p50"] == pytest.approx(10.0)
    assert v["wait_p90"] == pytest.approx(10 + 0.8 * (30 - 10))
    assert v["wait_p99"] == pytest.approx(10 + 0.98 * (30 - 10))
    assert v["abandon_rate"] == pytest.approx(1 / 4)
    # 2 for 600 s, 0 for 600 s, 4 for the last 2400 s of the hour
    assert v["queue_length"] == pytest.approx((2 * 600 + 0 * 600 + 4 * 2400) / 3600)
    assert v["occupancy"] is None  # only the all row and the agent groups have occupancy
    assert table.row(SALES, 0).values == table.row(SALES, None).values  # one interval: the same numbers


def test_scopes_channels_intervals_and_groups():
    result = four_contacts()
    result.records += [
        rec("c5", 1900.0, channel="chat", answered=1960.0),  # 60 s: late for sales
        rec("c6", 2000.0, queue="support", answered=2030.0),  # 30 s: within support's 60 s
    ]
    table = summarize([result], CONFIG, interval=1800)
    assert table.intervals == 2
    assert mean(table, ALL, "offered") == 6
    assert mean(table, ALL, "sl_answered") == pytest.approx(3 / 5)  # each contact against its own queue's target
    assert mean(table, SALES, "offered", 0) == 4 and mean(table, SALES, "offered", 1) == 1
    assert mean(table, SALES, "sl_answered", 1) == 0.0
    assert mean(table, SALES, "asa", 1) == pytest.approx(60.0)
    assert mean(table, SUPPORT, "asa", 0) is None  # nothing answered: undefined, not 0
    assert mean(table, SUPPORT, "offered", 0) == 0
    voice, chat = (Scope(kind=ScopeKind.CHANNEL, channel=ch) for ch in ("voice", "chat"))
    assert (mean(table, voice, "offered"), mean(table, chat, "offered")) == (5, 1)
    sales_chat = Scope(kind=ScopeKind.QUEUE_CHANNEL, queue="sales", channel="chat")
    assert mean(table, sales_chat, "answered") == 1 and mean(table, sales_chat, "queue_length") is None
    assert mean(table, SALES, "queue_length", 0) == pytest.approx((2 * 600 + 4 * 600) / 1800)
    assert mean(table, SALES, "queue_length", 1) == pytest.approx(4.0)
    assert mean(table, ALL, "queue_length") == pytest.approx(3.0 + 0.0)  # summed over queues
    # a1 serves sales; a2 and a3 (skills s and b, voice) serve both queues
    assert [s.group for s in table.scopes(ScopeKind.GROUP)] == ["sales", "sales+support"]
    assert mean(table, Scope(kind=ScopeKind.GROUP, group="sales"), "occupancy") == pytest.approx(0.5)
    assert mean(table, Scope(kind=ScopeKind.GROUP, group="sales+support"), "occupancy") == pytest.approx(0.75)
    assert mean(table, ALL, "occupancy") == pytest.approx(4800 / 7600)


def test_unanswered_contacts_count_late_only_after_the_target():
    result = RunResult(
        seed=1,
        horizon=3600.0,
        records=[
            rec("in", 0.0, answered=10.0),
            rec("at-target", 0.0, answered=20.0),  # wait == target: within
            rec("overflow-late", 0.0, overflowed=45.0),  # ended by max wait after 45 s: a miss
            rec("overflow-early", 0.0, overflowed=15.0),  # ended within the target: left out
            rec("waiting-late", 3500.0),  # 100 s at the horizon: a miss
            rec("waiting-early", 3590.0),  # 10 s at the horizon: outcome unknown, left out
            rec("abandon-early", 0.0, abandoned=5.0),  # abandoned within the target
        ],
    )
    table = summarize([result], CONFIG, interval=3600)
    assert mean(table, SALES, "sl_answered") == pytest.approx(2 / (2 + 2))
    assert mean(table, SALES, "sl_all") == pytest.approx((2 + 1) / (2 + 1 + 2))
    assert mean(table, SALES, "overflowed") == 2 and mean(table, SALES, "offered") == 7
    assert mean(table, SALES, "abandon_rate") == pytest.approx(1 / 7)
    assert mean(table, SALES, "queue_length") is None  # no samples
    assert mean(table, ALL, "occupancy") is None  # nobody staffed


def test_confidence_interval_student_t():
    kpi = Kpi.of([0.8, 0.9, 1.0])
    assert kpi.mean == pytest.approx(0.9)
    half = 4.303 * 0.1 / math.sqrt(3)
    assert kpi.low == pytest.approx(0.9 - half, abs=1e-3) and kpi.high == pytest.approx(0.9 + half, abs=1e-3)
    assert Kpi.of([0.7]) == Kpi(mean=0.7, low=None, high=None, n=1)
    assert Kpi.of([]) == Kpi(mean=None, n=0)
    assert t975(1) == pytest.approx(12.706, abs=1e-3) and t975(9) == pytest.approx(2.262, abs=1e-3)
    assert t975(30) == pytest.approx(2.042, abs=1e-3) and t975(31) == pytest.approx(2.0395, abs=1e-4)
    assert t975(120) == pytest.approx(1.9799, abs=1e-4) and t975(10**6) == pytest.approx(1.95996, abs=1e-4)


def replication(seed: int, within: int) -> RunResult:
    """Ten answered sales contacts, ``within`` of them inside the 20 s target."""
    records = [rec(f"c{i}", 60.0 * i, answered=60.0 * i + (5 if i < within else 50)) for i in range(10)]
    return RunResult(seed=seed, horizon=600.0, records=records)


def test_confidence_interval_across_replications():
    table = summarize([replication(1, 8), replication(2, 9), replication(3, 10)], CONFIG, interval=600)
    kpi = table.row(SALES).values["sl_answered"]
    half = 4.303 * 0.1 / math.sqrt(3)
    assert (kpi.mean, kpi.n) == (pytest.approx(0.9), 3)
    assert kpi.low == pytest.approx(0.9 - half, abs=1e-3) and kpi.high == pytest.approx(0.9 + half, abs=1e-3)
    assert table.row(SALES).values["offered"] == Kpi(mean=10.0, low=10.0, high=10.0, n=3)
    assert table.seeds == (1, 2, 3)
    single = summarize([replication(1, 8)], CONFIG, interval=600).row(SALES).values["sl_answered"]
    assert (single.mean, single.low, single.high) == (pytest.approx(0.8), None, None)


def test_staffing_helpers():
    shifts = [
        Shift(agent="a1", start=0, end=3600, breaks=(Break(start=900, end=1800),)),
        Shift(agent="a2", start=1800, end=7200),
    ]
    assert staffed_from_shifts(shifts, interval=1800, intervals=3).tolist() == [0.5, 2.0, 1.0]
    assert handling_load([four_contacts()], interval=1800, intervals=2).tolist() == [[(60 + 60 + 60) / 1800, 0.0]]


def test_summarize_rejects_bad_input():
    with pytest.raises(ValueError):
        summarize([], CONFIG, interval=60)
    with pytest.raises(ValueError):
        summarize([four_contacts()], CONFIG, interval=0)


class Html(HTMLParser):
    """Collects the tags, the img sources and every URL-bearing attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.open: list[str] = []
        self.images: list[str] = []
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag not in ("meta", "img", "br"):
            self.open.append(tag)
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs["src"])
        self.urls += [v for k, v in attrs.items() if k in ("href", "src", "action", "data") and v]

    def handle_endtag(self, tag):
        assert self.open and self.open[-1] == tag, f"</{tag}> closes <{self.open[-1] if self.open else None}>"
        self.open.pop()


def test_write_report(tmp_path: Path):
    results = [four_contacts(seed=1), four_contacts(seed=2)]
    results[1].records[2].answered = 215.0  # 15 s: within the target in the second replication
    out = tmp_path / "report"
    paths = write_report(
        results,
        CONFIG,
        out,
        interval=1800,
        start=datetime(2026, 3, 2, 8, 0),
        title="Monday <plan>",
        staffing=[(0, "sales", 3.0), (1, "sales", 2.0), (0, "support", 1.0)],
        shifts=[Shift(agent="a1", start=0, end=3600)],
    )
    assert {p.name for p in out.iterdir()} == {"kpis.csv", "kpis.json", "report.html", *(f"{n}.png" for n in PLOTS)}
    for png in paths.plots.values():
        assert png.read_bytes()[:8] == PNG

    with paths.csv.open(newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    assert tuple(reader.fieldnames) == CSV_COLUMNS
    assert CSV_COLUMNS[:8] == ("scope", "queue", "channel", "group", "interval", "start_s", "end_s", "start_time")
    assert {f"{k}_{p}" for k in KPIS for p in ("mean", "low", "high")} <= set(CSV_COLUMNS)
    sales = {r["interval"]: r for r in rows if r["scope"] == "queue" and r["queue"] == "sales"}
    assert set(sales) == {"all", "0", "1"}
    assert float(sales["all"]["sl_answered_mean"]) == pytest.approx((2 / 3 + 1) / 2)
    assert float(sales["all"]["sl_answered_low"]) < float(sales["all"]["sl_answered_high"])
    assert sales["1"]["asa_mean"] == ""  # undefined: empty cell
    assert sales["1"]["start_time"] == "2026-03-02T08:30:00"
    # scopes x (whole run + 2 intervals), plus one whole-run row per agent group
    assert len(rows) == (1 + 2 + 2 + 3) * 3 + 2

    meta = json.loads(paths.json.read_text())
    assert (meta["replications"], meta["seeds"], meta["horizon"], meta["interval"]) == (2, [1, 2], 3600.0, 1800)
    assert meta["targets"]["sales"] == {"target_seconds": 20.0, "percent": 80.0}
    assert len(meta["rows"]) == len(rows)
    assert meta["rows"][0]["scope"] == "all" and meta["rows"][0]["values"]["offered"]["mean"] == 4

    text = paths.html.read_text()
    parser = Html()
    parser.feed(text)
    parser.close()
    assert parser.open == []  # every element closed, in order
    assert parser.tags[:4] == ["html", "head", "meta", "title"]
    assert {"style", "body", "h1", "table"} <= set(parser.tags)
    assert not {"script", "link", "iframe", "object"} & set(parser.tags)
    assert parser.tags.count("table") == 3 and parser.tags.count("img") == len(PLOTS)
    assert all(u.startswith("data:image/png;base64,") for u in parser.urls)  # nothing external
    for src in parser.images:
        assert base64.b64decode(src.removeprefix("data:image/png;base64,"))[:8] == PNG
    without_images = text
    for src in parser.images:
        without_images = without_images.replace(src, "")
    assert "http" not in without_images and "url(" not in without_images
    assert "Monday &lt;plan&gt;" in text and "<plan>" not in text


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar():
    clock = iter([0.0, 2.5]).__next__
    log = io.StringIO()
    with Progress(3, "runs", log, clock=clock) as bar:
        bar.advance()
        bar.advance(5)  # stops at the total
    assert log.getvalue() == "runs: 3/3 done in 2.5s\n"  # not a TTY: one summary line
    tty = Tty()
    bar = Progress(2, "runs", tty, clock=iter([0.0, 1.0]).__next__)
    bar.advance()
    bar.close()
    bar.close()
    drawn = tty.getvalue()
    assert drawn.count("\r") == 3  # 0/2, 1/2, and the final line; closing twice writes once
    assert drawn.startswith("\rruns [....") and drawn.endswith("] 1/2  50% 1.0s\n")
