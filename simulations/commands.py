"""The planners' CLI commands: ``erlang c|a``, ``simulate``, ``plan staffing``, ``events export``."""

from __future__ import annotations

import argparse
import sys

from router.cli import command
from simulations.erlang import agents_for_service_level_a, agents_for_service_level_c, format_result


def _erlang_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", choices=["c", "a"], help="c: Erlang C (M/M/n); a: Erlang A (M/M/n+M, abandonment)")
    parser.add_argument("--calls-per-hour", type=float, required=True, help="offered calls per hour")
    parser.add_argument("--aht", type=float, required=True, help="average handle time, seconds")
    parser.add_argument("--patience", type=float, help="mean customer patience, seconds (Erlang A)")
    parser.add_argument("--target-seconds", type=float, required=True, help="service-level answer time")
    parser.add_argument("--service-level", type=float, required=True, help="the share to answer in time: 0.8 or 80")


@command("erlang", "agents needed for a service level, with Erlang C or Erlang A", _erlang_arguments)
def cmd_erlang(args: argparse.Namespace) -> int:
    level = args.service_level / 100 if args.service_level > 1 else args.service_level
    try:
        if args.model == "a":
            if args.patience is None:
                print("erlang a needs --patience SECONDS (the customers' mean patience)")
                return 1
            result = agents_for_service_level_a(
                args.calls_per_hour, args.aht, args.patience, args.target_seconds, level
            )
        else:
            result = agents_for_service_level_c(args.calls_per_hour, args.aht, args.target_seconds, level)
    except ValueError as exc:
        print(f"erlang: {exc}")
        return 1
    print(f"agents needed: {result.agents}")
    print(format_result(result))
    return 0


# -- simulate ---------------------------------------------------------------------------------------


def _simulate_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--scenario", metavar="FILE", help="a scenario YAML file (default: routing.yaml's simulation)")
    source.add_argument("--replay", metavar="FILE", help="history to replay: contacts CSV, counts CSV or events.jsonl")
    parser.add_argument("--replications", type=int, default=10, help="independent runs (default 10)")
    parser.add_argument("--out", metavar="DIR", required=True, help="where to write the report")
    parser.add_argument("--seed", type=int, help="first seed (default: the scenario's)")
    parser.add_argument("--workers", type=int, help="local processes (default: one per core)")
    parser.add_argument("--dask", metavar="ADDRESS", help="run the replications on this Dask scheduler")
    parser.add_argument("--strategy", help="override every queue's strategy (what-if)")


def _replication(scenario, seed: int):
    """One replication of a scenario (module-level, so it pickles for worker processes)."""
    import numpy as np

    from simulations.engine import simulate

    return simulate(
        scenario.config,
        scenario.arrivals(np.random.default_rng(seed)),
        scenario.shifts,
        behaviour=scenario.behaviour,
        seed=seed,
        horizon=scenario.horizon,
    )


def _scenario(args: argparse.Namespace):
    """The scenario named on the command line, with the routing config it runs on (or None, printed why)."""
    from dataclasses import replace

    from router.cli import read_config
    from router.config.model import Strategy, frozen_map
    from router.errors import ConfigError
    from simulations.replay import scenario_from_replay
    from simulations.scenario import Scenario, load_scenario

    routing = read_config(args.config)
    if routing is None:
        return None
    try:
        if args.scenario:
            scenario = load_scenario(args.scenario, routing=routing)
        elif args.replay:
            scenario = scenario_from_replay(args.replay, routing)
        elif isinstance(routing.simulation, Scenario):
            scenario = replace(routing.simulation, config=replace(routing, simulation=frozen_map()))
        else:
            print(f"{args.config} has no simulation section: give --scenario FILE or --replay FILE", file=sys.stderr)
            return None
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return None
    if getattr(args, "strategy", None):
        strategy = Strategy(args.strategy)
        queues = {n: replace(q, strategy=strategy) for n, q in scenario.config.queues.items()}
        scenario = replace(scenario, config=replace(scenario.config, queues=frozen_map(queues)))
    return scenario


@command("simulate", "replicate a scenario (or replay history) through the live routing policy", _simulate_arguments)
def cmd_simulate(args: argparse.Namespace) -> int:
    import functools
    from pathlib import Path

    from simulations.progress import Progress
    from simulations.replications import run_replications
    from simulations.report import write_report

    scenario = _scenario(args)
    if scenario is None:
        return 1
    first = scenario.seed if args.seed is None else args.seed
    seeds = [first + i for i in range(args.replications)]
    with Progress(len(seeds), "replications") as progress:
        results = run_replications(
            functools.partial(_replication, scenario),
            seeds,
            workers=args.workers,
            dask=args.dask,
            on_done=progress.advance,
        )
    paths = write_report(
        results,
        scenario.config,
        Path(args.out),
        interval=scenario.interval,
        start=scenario.start,
        title=f"Omniroute simulation: {args.scenario or args.replay}",
        shifts=scenario.shifts,
    )
    contacts = sum(len(r.records) for r in results)
    print(f"{len(results)} replications, {contacts:,} contacts; report: {paths.html}")
    return 0


# -- plan staffing ----------------------------------------------------------------------------------


def _plan_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--scenario", metavar="FILE", help="a scenario YAML file (default: routing.yaml's simulation)")
    source.add_argument(
        "--replay", metavar="FILE", help="history to plan for: contacts CSV, counts CSV or events.jsonl"
    )
    parser.add_argument("--replications", type=int, default=8, help="replications per round (default 8)")
    parser.add_argument("--out", metavar="DIR", help="also write staffing.csv and staffing.json here")
    parser.add_argument("--workers", type=int, help="local processes (default: one per core)")
    parser.add_argument("--dask", metavar="ADDRESS", help="run the replications on this Dask scheduler")


def _arrivals_for(scenario, seed: int):
    """A replication's traffic (module-level, so it pickles for worker processes)."""
    import numpy as np

    return scenario.arrivals(np.random.default_rng(seed))


@command(
    "plan staffing", "the fewest agents per interval and queue that meet each service-level target", _plan_arguments
)
def cmd_plan_staffing(args: argparse.Namespace) -> int:
    import csv
    import functools
    import json
    from pathlib import Path

    from simulations.staffing import plan_staffing

    scenario = _scenario(args)
    if scenario is None:
        return 1
    seeds = [scenario.seed + i for i in range(args.replications)]
    plan = plan_staffing(
        scenario.config,
        scenario.demand(),
        functools.partial(_arrivals_for, scenario),
        interval=scenario.interval,
        intervals=scenario.intervals,
        seeds=seeds,
        behaviour=scenario.behaviour,
        workers=args.workers,
        dask=args.dask,
    )
    rows = [row for row in plan.table() if row["erlang_agents"] or row["simulated_agents"]]
    for row in rows:
        row["start"] = _interval_start(scenario, row["interval"])
    print(f"{'interval':<20} {'queue':<12} {'erlang':>7} {'simulated':>10} {'gap':>5} {'service level':>14}")
    for row in rows:
        level = "-" if row["service_level"] is None else f"{100 * row['service_level']:.0f}%"
        print(
            f"{row['start']:<20} {row['queue']:<12} {row['erlang_agents']:>7} {row['simulated_agents']:>10} "
            f"{row['gap']:>+5} {level:>14}"
        )
    verdict = "every interval meets its target" if plan.met else "NOT every interval meets its target"
    print(f"{plan.rounds} rounds of {len(seeds)} replications; {verdict}")
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        with open(out / "staffing.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else ["interval"])
            writer.writeheader()
            writer.writerows(rows)
        document = {
            "v": 1,
            "scenario": scenario.source,
            "interval": scenario.interval,
            "met": plan.met,
            "rounds": plan.rounds,
            "seeds": seeds,
            "rows": rows,
        }
        (out / "staffing.json").write_text(json.dumps(document, indent=2), encoding="utf-8")
        print(f"written: {out / 'staffing.csv'}, {out / 'staffing.json'}")
    return 0 if plan.met else 2


def _interval_start(scenario, index: int) -> str:
    if scenario.start is None:
        return f"{index} (+{index * scenario.interval:g}s)"
    from datetime import timedelta

    return (scenario.start + timedelta(seconds=index * scenario.interval)).strftime("%Y-%m-%d %H:%M")


# -- events export ----------------------------------------------------------------------------------


def _export_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="start", metavar="TIME", help="first event time, ISO-8601 (default: oldest)")
    parser.add_argument("--to", dest="end", metavar="TIME", help="last event time, ISO-8601 (default: newest)")
    parser.add_argument("--out", metavar="FILE", help="write here instead of standard output")


def stream_bound(value: str | None, *, end: bool) -> str:
    """An ISO time (naive means UTC) as an event stream id bound (milliseconds); None: the stream's end."""
    if value is None:
        return "+" if end else "-"
    from datetime import UTC, datetime

    moment = datetime.fromisoformat(value)
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return str(int(moment.timestamp() * 1000))


@command("events export", "write the router's events between two times as JSON lines (for replay)", _export_arguments)
def cmd_events_export(args: argparse.Namespace) -> int:
    import asyncio
    import json

    from router.cli import read_config
    from router.store import RedisStore, connect

    config = read_config(args.config)
    if config is None:
        return 1
    try:
        start, end = stream_bound(args.start, end=False), stream_bound(args.end, end=True)
    except ValueError as exc:
        print(f"events export: {exc}", file=sys.stderr)
        return 1

    async def fetch():
        client = await connect(args.redis, tenant=config.tenant)
        try:
            return await RedisStore(client, config).events_between(start, end)
        finally:
            await client.aclose()

    events = asyncio.run(fetch())
    lines = "".join(json.dumps(e.to_json(), separators=(",", ":")) + "\n" for e in events)
    if args.out:
        from pathlib import Path

        Path(args.out).write_text(lines, encoding="utf-8")
        print(f"{len(events)} events written to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(lines)
    return 0
