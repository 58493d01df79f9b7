"""The planners' report of a set of replications: kpis.csv, kpis.json, PNG plots and one self-contained report.html.

Numbers come from :mod:`simulations.kpis` (definitions in ``docs/simulation.md``, "Reports"). Plots use
matplotlib's Agg canvas directly (no pyplot, no display, no global state). The HTML embeds the PNGs as
base64 data URIs and its CSS inline: it opens offline and can be mailed as one file.
"""

from __future__ import annotations

import base64
import csv
import html
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import DateFormatter
from matplotlib.figure import Figure

from router.config.model import Config
from simulations.kpis import (
    ALL,
    KPIS,
    Kpi,
    KpiRow,
    KpiTable,
    Scope,
    ScopeKind,
    answered_waits,
    handling_load,
    staffed_from_shifts,
    summarize,
)
from simulations.model import RunResult, Shift

StaffingRow = tuple[int, str, float]  # (interval index, queue, agents planned)
ROW_COLUMNS = ("scope", "queue", "channel", "group", "interval", "start_s", "end_s", "start_time")
CSV_COLUMNS = ROW_COLUMNS + tuple(f"{k}_{part}" for k in KPIS for part in ("mean", "low", "high"))
SHARES = {"sl_answered", "sl_all", "abandon_rate", "occupancy"}  # shown as percentages
PLOTS = ("wait_cdf", "service_level", "queue_length", "staffing")
JSON_VERSION = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportPaths:
    """The files :func:`write_report` wrote."""

    csv: Path
    json: Path
    html: Path
    plots: Mapping[str, Path]  # PLOTS name -> PNG


def write_report(
    results: Sequence[RunResult],
    config: Config,
    out_dir: Path,
    *,
    interval: float,
    start: datetime | None = None,
    title: str = "",
    staffing: Sequence[StaffingRow] | None = None,
    shifts: Sequence[Shift] | None = None,
) -> ReportPaths:
    """Summarize ``results`` (replications of one scenario) and write the report files into ``out_dir``.

    Args:
        interval: the reporting interval, seconds (e.g. 900 or 1800).
        start: the wall-clock time of t=0; labels intervals with times of day. None: hours from the start.
        title: the report's heading.
        staffing: planned agents as (interval index, queue, agents), drawn on the staffing plot.
        shifts: the scenario's shifts, for agents staffed per interval; without them the plot shows the
            mean staffed over the whole run (RunResult only keeps totals).

    Returns:
        The paths written: kpis.csv, kpis.json, report.html and one PNG per name in PLOTS.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    table = summarize(results, config, interval=interval)
    title = title or "Simulation report"
    csv_path = out_dir / "kpis.csv"
    _write_csv(table, csv_path, start)
    json_path = out_dir / "kpis.json"
    json_path.write_text(json.dumps(_json(table, title, start), indent=1, allow_nan=False) + "\n", encoding="utf-8")
    axis = _TimeAxis(start)
    figures = {
        "wait_cdf": _wait_cdf(results, table),
        "service_level": _service_level(table, axis),
        "queue_length": _queue_length(results, table, axis),
        "staffing": _staffing(results, table, axis, staffing, shifts),
    }
    plots = {}
    for name, fig in figures.items():
        plots[name] = out_dir / f"{name}.png"
        FigureCanvasAgg(fig).print_png(str(plots[name]))
    html_path = out_dir / "report.html"
    html_path.write_text(_html(table, title, start, plots), encoding="utf-8")
    return ReportPaths(csv=csv_path, json=json_path, html=html_path, plots=plots)


# -- kpis.csv and kpis.json ---------------------------------------------------------------------------------


def _row_fields(row: KpiRow, start: datetime | None) -> dict[str, object]:
    return {
        "scope": row.scope.kind.value,
        "queue": row.scope.queue,
        "channel": row.scope.channel,
        "group": row.scope.group,
        "interval": "all" if row.interval is None else row.interval,
        "start_s": row.start,
        "end_s": row.end,
        "start_time": (start + timedelta(seconds=row.start)).isoformat() if start is not None else "",
    }


def _write_csv(table: KpiTable, path: Path, start: datetime | None) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for row in table.rows:
            cells = _row_fields(row, start)
            for name, kpi in row.values.items():
                for part in ("mean", "low", "high"):
                    value = getattr(kpi, part)
                    cells[f"{name}_{part}"] = "" if value is None else repr(value)
            writer.writerow(cells)


def _json(table: KpiTable, title: str, start: datetime | None) -> dict[str, object]:
    return {
        "v": JSON_VERSION,
        "title": title,
        "replications": table.replications,
        "seeds": list(table.seeds),
        "horizon": table.horizon,
        "interval": table.interval,
        "intervals": table.intervals,
        "start": start.isoformat() if start is not None else None,
        "targets": {q: {"target_seconds": t.target_seconds, "percent": t.percent} for q, t in table.targets.items()},
        "kpis": list(KPIS),
        "rows": [
            {**_row_fields(r, start), "values": {k: v.to_json() for k, v in r.values.items()}} for r in table.rows
        ],
    }


# -- plots --------------------------------------------------------------------------------------------------


class _TimeAxis:
    """Seconds from t=0 as plot x values: datetimes when the report has a start, else hours."""

    def __init__(self, start: datetime | None) -> None:
        self.start = start
        self.label = "time of day" if start is not None else "hours from start"

    def __call__(self, seconds: Iterable[float]) -> list:
        if self.start is None:
            return [s / 3600 for s in seconds]
        return [self.start + timedelta(seconds=float(s)) for s in seconds]

    def style(self, ax, span: float) -> None:
        """Time-of-day ticks (with the weekday when ``span`` seconds pass a day) and the axis label."""
        if self.start is not None:
            ax.xaxis.set_major_formatter(DateFormatter("%a %H:%M" if span > 86400 else "%H:%M"))
        ax.set_xlabel(self.label)


def _figure(rows: int = 1, cols: int = 1, height: float = 3.6):
    fig = Figure(figsize=(9.5, height * rows), dpi=100, layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    return fig, axes


def _series(table: KpiTable, scope: Scope, kpi: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-interval mean, low and high of ``kpi`` (NaN where undefined)."""
    values = [table.row(scope, i).values[kpi] for i in range(table.intervals)]

    def arr(part: str) -> np.ndarray:
        return np.array([math.nan if getattr(v, part) is None else getattr(v, part) for v in values], dtype=float)

    return arr("mean"), arr("low"), arr("high")


def _mids(table: KpiTable) -> np.ndarray:
    return (np.arange(table.intervals) + 0.5) * table.interval


def _band(ax, x: list, kpi: tuple[np.ndarray, np.ndarray, np.ndarray], label: str, **style) -> None:
    mean, low, high = kpi
    (line,) = ax.plot(x, mean, marker="o", markersize=3, label=label, **style)
    if not np.all(np.isnan(low)):  # drawn clipped at 0: every KPI plotted is >= 0
        ax.fill_between(x, np.fmax(low, 0), high, color=line.get_color(), alpha=0.18, linewidth=0)


def _wait_cdf(results: Sequence[RunResult], table: KpiTable) -> Figure:
    fig, (ax,) = _figure()
    drawn = False
    for scope in table.scopes(ScopeKind.QUEUE):
        waits = answered_waits(results, scope.queue)
        if not len(waits):
            continue
        drawn = True
        (line,) = ax.step(waits, np.arange(1, len(waits) + 1) / len(waits), where="post", label=scope.queue)
        ax.axvline(table.targets[scope.queue].target_seconds, color=line.get_color(), linestyle=":", linewidth=1)
    if not drawn:
        ax.text(0.5, 0.5, "no answered contacts", ha="center", va="center", transform=ax.transAxes)
    ax.set(title="Wait of answered contacts (CDF, all replications; dotted: target)", xlabel="wait (s)")
    ax.set(ylabel="share answered within", ylim=(0, 1.02))
    ax.grid(alpha=0.3)
    if drawn:
        ax.legend(fontsize="small")
    return fig


def _service_level(table: KpiTable, axis: _TimeAxis) -> Figure:
    queues = table.scopes(ScopeKind.QUEUE) or [ALL]
    cols = 1 if len(queues) == 1 else 2
    fig, axes = _figure(math.ceil(len(queues) / cols), cols, height=3.2)
    x = axis(_mids(table))
    for ax, scope in zip(axes, queues, strict=False):
        _band(ax, x, _series(table, scope, "sl_answered"), "answered within / answered")
        _band(ax, x, _series(table, scope, "sl_all"), "incl. abandoned", linestyle="--")
        target = table.targets.get(scope.queue)
        if target is not None:
            ax.axhline(target.percent / 100, color="crimson", linewidth=1, label=f"target {target.percent:g}%")
            ax.set_title(f"{scope.label}: service level ({target.target_seconds:g} s), 95% CI", fontsize="medium")
        ax.set(ylim=(0, 1.05))
        axis.style(ax, table.intervals * table.interval)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="x-small", loc="lower left")
    for ax in axes[len(queues) :]:
        ax.set_visible(False)
    return fig


def _queue_length(results: Sequence[RunResult], table: KpiTable, axis: _TimeAxis) -> Figure:
    fig, (ax,) = _figure()
    first = results[0]
    for scope in table.scopes(ScopeKind.QUEUE):
        _band(ax, axis(_mids(table)), _series(table, scope, "queue_length"), f"{scope.queue} (interval mean)")
        samples = sorted((t, n) for t, q, n in first.queue_length if q == scope.queue)
        if samples:
            times, counts = zip(*samples, strict=True)
            ax.step(
                axis(times), counts, where="post", linewidth=0.7, alpha=0.5, label=f"{scope.queue} (seed {first.seed})"
            )
    ax.set(title="Contacts waiting (interval means with 95% CI; thin: one replication's samples)")
    ax.set(ylabel="contacts waiting")
    axis.style(ax, table.intervals * table.interval)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return fig


def _staffing(
    results: Sequence[RunResult],
    table: KpiTable,
    axis: _TimeAxis,
    staffing: Sequence[StaffingRow] | None,
    shifts: Sequence[Shift] | None,
) -> Figure:
    fig, (ax,) = _figure()
    n = table.intervals
    edges = axis(np.arange(n + 1) * table.interval)
    if shifts is not None:
        staffed = staffed_from_shifts(shifts, interval=table.interval, intervals=n)
        ax.stairs(staffed, edges, linewidth=2, label="staffed (shifts less breaks)")
    elif table.horizon > 0:  # RunResult keeps only totals: their mean over the horizon
        mean = np.mean([sum(r.agent_staffed.values()) / r.horizon if r.horizon > 0 else 0.0 for r in results])
        ax.plot(axis([0, table.horizon]), [mean, mean], linewidth=2, label="staffed (mean over the horizon)")
    load = handling_load(results, interval=table.interval, intervals=n).mean(axis=0)
    ax.stairs(load, edges, label="contacts being handled (mean)", linestyle="--")
    if staffing:
        planned: dict[str, np.ndarray] = {}
        for i, queue, agents in staffing:
            if 0 <= i < n:
                planned.setdefault(queue, np.zeros(n))[i] += agents
        for queue, agents in sorted(planned.items()):
            ax.stairs(agents, edges, label=f"planned: {queue}", linestyle=":")
        if len(planned) > 1:
            ax.stairs(sum(planned.values()), edges, label="planned: total", linestyle="-.")
    ax.set(title="Staffing per interval", ylabel="agents")
    axis.style(ax, n * table.interval)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return fig


# -- report.html --------------------------------------------------------------------------------------------

CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
h1{margin-bottom:.2em} .meta{color:#555} table{border-collapse:collapse;margin:1em 0;font-size:13px}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:right;vertical-align:top} th{background:#f3f3f3}
td.l,th.l{text-align:left} .ci{color:#777;font-size:11px;white-space:nowrap} figure{margin:1.5em 0}
img{max-width:100%;border:1px solid #ddd} figcaption{color:#555}
"""
HEADLINE = ("offered", "answered", "abandoned", "sl_answered", "sl_all", "asa", "wait_p90", "abandon_rate")
HEADLINE += ("queue_length", "occupancy")
PER_INTERVAL = ("offered", "sl_answered", "sl_all", "asa", "wait_p90", "abandon_rate", "queue_length")
NAMES = {
    "offered": "Offered",
    "answered": "Answered",
    "abandoned": "Abandoned",
    "sl_answered": "SL (answered)",
    "sl_all": "SL (incl. abandoned)",
    "asa": "ASA (s)",
    "wait_p90": "Wait p90 (s)",
    "abandon_rate": "Abandoned %",
    "queue_length": "Queue length",
    "occupancy": "Occupancy",
}
CAPTIONS = {
    "wait_cdf": "Wait-time distribution of answered contacts per queue, pooled over replications.",
    "service_level": "Service level per interval against the target, mean and 95% confidence band.",
    "queue_length": "Queue length over time.",
    "staffing": "Agents staffed and contacts in handling per interval (and the planned staffing, if given).",
}


def _num(value: float | None, share: bool) -> str:
    if value is None:
        return "&ndash;"
    if share:
        return f"{100 * value:.1f}%"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def _cell(name: str, kpi: Kpi) -> str:
    share = name in SHARES
    text = _num(kpi.mean, share)
    if kpi.low is not None and kpi.high is not None:
        text += f'<br><span class="ci">[{_num(kpi.low, share)}, {_num(kpi.high, share)}]</span>'
    return f"<td>{text}</td>"


def _table(header: Sequence[str], rows: Iterable[Sequence[str]], left: int = 1) -> str:
    head = "".join(f"<th{' class=l' if i < left else ''}>{html.escape(h)}</th>" for i, h in enumerate(header))
    return f"<table><tr>{head}</tr>" + "".join(f"<tr>{''.join(r)}</tr>" for r in rows) + "</table>"


def _label(text: str) -> str:
    return f'<td class="l">{html.escape(text)}</td>'


def _html(table: KpiTable, title: str, start: datetime | None, plots: Mapping[str, Path]) -> str:
    queues = table.scopes(ScopeKind.QUEUE)
    headline = []
    for scope in [ALL, *queues]:
        t = table.targets.get(scope.queue)
        target = f"{t.percent:g}% in {t.target_seconds:g} s" if t is not None else ""
        values = table.row(scope).values
        headline.append([_label(scope.label), _label(target), *(_cell(k, values[k]) for k in HEADLINE)])
    groups = [
        [_label(s.group), _cell("occupancy", table.row(s).values["occupancy"])] for s in table.scopes(ScopeKind.GROUP)
    ]
    per_interval = []
    for i in range(table.intervals):
        begin = table.row(ALL, i).start
        when = (start + timedelta(seconds=begin)).strftime("%Y-%m-%d %H:%M") if start else f"{begin / 3600:g} h"
        for scope in [ALL, *queues]:
            values = table.row(scope, i).values
            per_interval.append(
                [_label(str(i)), _label(when), _label(scope.label), *(_cell(k, values[k]) for k in PER_INTERVAL)]
            )
    figures = "".join(
        f'<figure><img alt="{name}" src="data:image/png;base64,{base64.b64encode(path.read_bytes()).decode("ascii")}">'
        f"<figcaption>{html.escape(CAPTIONS[name])}</figcaption></figure>"
        for name, path in plots.items()
    )
    seeds = ", ".join(str(s) for s in table.seeds)
    meta = (
        f"{table.replications} replication{'s' if table.replications != 1 else ''} (seeds {html.escape(seeds)}); "
        f"horizon {table.horizon / 3600:g} h; interval {table.interval / 60:g} min"
        + (f"; t=0 at {html.escape(start.isoformat())}" if start else "")
        + ". Each value is the mean over replications; below it, the 95% confidence interval (Student t)."
    )
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{CSS}</style></head><body>\n<h1>{html.escape(title)}</h1><p class=meta>{meta}</p>\n"
        "<h2>Headline KPIs</h2>\n"
        + _table(["Scope", "Target", *(NAMES[k] for k in HEADLINE)], headline, left=2)
        + "\n<h2>Occupancy by agent group</h2>\n<p class=meta>Agents grouped by the set of queues they serve.</p>\n"
        + _table(["Group", "Occupancy"], groups)
        + "\n<h2>Per interval</h2>\n"
        + _table(["#", "Start", "Scope", *(NAMES[k] for k in PER_INTERVAL)], per_interval, left=3)
        + f"\n<h2>Plots</h2>\n{figures}\n</body></html>\n"
    )
