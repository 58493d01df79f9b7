"""The planners' CLI commands: ``erlang c|a``."""

from __future__ import annotations

import argparse

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
