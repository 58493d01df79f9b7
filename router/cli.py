"""The ``omniroute`` command line.

Subcommands live in :data:`COMMANDS`. To add one, write ``def cmd_x(args) -> int`` and register it with
:func:`command`, giving its name (two words, such as ``"queue stats"``, make a nested subcommand) and a
function that adds its own arguments. Every subcommand gets the global options ``--config`` and
``--redis``, before or after its name: ``omniroute --config x.yaml check`` and
``omniroute check --config x.yaml`` mean the same.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from router import compiled
from router.config import load
from router.config.model import Channel, Config, Queue
from router.errors import ConfigError
from router.state import agent_queues
from skills.model import SkillRequirement, meets

DEFAULT_CONFIG = "routing.yaml"
DEFAULT_REDIS = "redis://localhost:6379/0"

Handler = Callable[[argparse.Namespace], int]


@dataclass(frozen=True, slots=True)
class Command:
    """A registered subcommand."""

    name: str  # "check", or "queue stats" for a nested subcommand
    help: str
    handler: Handler
    arguments: Callable[[argparse.ArgumentParser], None] | None = None  # adds the subcommand's own arguments


COMMANDS: dict[str, Command] = {}


def command(
    name: str, help: str, arguments: Callable[[argparse.ArgumentParser], None] | None = None
) -> Callable[[Handler], Handler]:
    """Register the decorated ``cmd_x(args) -> int`` as subcommand ``name``."""

    def register(handler: Handler) -> Handler:
        COMMANDS[name] = Command(name, help, handler, arguments)
        return handler

    return register


def global_options(*, defaults: bool) -> argparse.ArgumentParser:
    """The options every subcommand takes, as a parent parser.

    The top-level parser has the defaults; the subcommands' copies default to nothing, so an option given
    before the subcommand's name is not overwritten by a default after it.
    """
    parent = argparse.ArgumentParser(add_help=False)
    config_default = DEFAULT_CONFIG if defaults else argparse.SUPPRESS
    redis_default = os.environ.get("REDIS_URL", DEFAULT_REDIS) if defaults else argparse.SUPPRESS
    parent.add_argument(
        "--config",
        metavar="FILE",
        default=config_default,
        help=f"routing configuration (default ./{DEFAULT_CONFIG})",
    )
    parent.add_argument(
        "--redis",
        metavar="URL",
        default=redis_default,
        help=f"Redis URL (default $REDIS_URL, else {DEFAULT_REDIS})",
    )
    return parent


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="omniroute",
        description="Omniroute contact-center routing.",
        parents=[global_options(defaults=True)],
    )
    shared = global_options(defaults=False)
    groups: dict[str, argparse._SubParsersAction] = {}
    top = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for cmd in COMMANDS.values():
        *group, leaf = cmd.name.split()
        subparsers = top
        for depth in range(len(group)):
            key = " ".join(group[: depth + 1])
            if key not in groups:
                group_parser = subparsers.add_parser(group[depth], help=f"{key} commands")
                groups[key] = group_parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
            subparsers = groups[key]
        sub = subparsers.add_parser(leaf, help=cmd.help, description=cmd.help, parents=[shared])
        if cmd.arguments is not None:
            cmd.arguments(sub)
        sub.set_defaults(handler=cmd.handler)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    import customers.commands  # noqa: F401
    import ivr.commands  # noqa: F401
    import router.commands  # noqa: F401  (registers the router's commands)
    import simulations.commands  # noqa: F401  (registers the planners' commands)
    from router.gateway import commands as _gateway_commands  # noqa: F401  (registers demo)

    args = build_parser().parse_args(argv)
    stale = [m for m, s in compiled.status().items() if s == "stale"]
    if stale:  # the compiled routing core would not be the code in the tree
        print(f"omniroute: error: {compiled.stale_message(stale)}", file=sys.stderr)
        return 2
    return args.handler(args)


def read_config(path: str) -> Config | None:
    """The config at ``path``, or ``None`` after printing why it can't be used to stderr."""
    if not Path(path).is_file():
        print(f"{path}: no such file (give the configuration with --config FILE)", file=sys.stderr)
        return None
    try:
        return load(path)
    except ConfigError as e:
        for problem in e.problems:
            print(problem, file=sys.stderr)
        count = len(e.problems)
        print(f"{path}: {count} problem{'s' if count != 1 else ''}", file=sys.stderr)
        return None


# check


def _check_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", nargs="?", metavar="CONFIG", help="the file to check (default: --config)")


@command("check", "validate a routing configuration and summarise it", _check_arguments)
def cmd_check(args: argparse.Namespace) -> int:
    path = args.file or args.config
    config = read_config(path)
    if config is None:
        return 1
    print("\n".join(summary(config)))
    return 0


def summary(config: Config) -> list[str]:
    """A one-screen description of ``config``, for ``check``."""
    channels = []
    for ch in config.channels.values():
        notes = _channel_notes(ch)
        channels.append(f"{ch.name} {ch.capacity}" + (f" ({', '.join(notes)})" if notes else ""))
    lines = [f"{config.source}: OK (tenant {config.tenant})", ""]
    lines += _wrapped("channels  ", channels)
    lines += _wrapped("skills    ", list(config.skills))
    lines.append(f"routing   {config.routing.strategy}, offer timeout {_seconds(config.routing.offer_timeout)}")
    lines += ["", f"queues ({len(config.queues)})", *_queue_lines(config)]
    if config.profiles:
        lines += ["", f"profiles ({len(config.profiles)})", *_profile_lines(config)]
    lines += ["", f"agents ({len(config.agents)})", *_agent_lines(config)]
    return lines


def _channel_notes(ch: Channel) -> list[str]:
    notes = ["exclusive"] if ch.exclusive else []
    return notes + ([f"offer timeout {_seconds(ch.offer_timeout)}"] if ch.offer_timeout else [])


def _queue_lines(config: Config) -> list[str]:
    lines = []
    width = max((len(q) for q in config.queues), default=0) + 2
    for q in config.queues.values():
        sl, serving = q.service_level, _serving(config, q)
        lines.append(
            f"  {q.name:<{width}}{', '.join(q.channels)} | {q.strategy} | priority {q.priority}"
            f" | SL {sl.percent:g}% in {_seconds(sl.target_seconds)} | {_count(serving, 'agent')}"
            + ("  (!) nobody can take its contacts" if not serving else "")
        )
        steps = [
            _needs(q.requirements),
            *(f"after {_seconds(s.after)} {_needs(s.requirements)}" for s in q.escalation),
        ]
        detail = "needs " + "; ".join(steps)
        if q.max_wait is not None:
            then = f"overflow to {q.max_wait.queue}" if q.max_wait.queue else "end"
            detail += f" | max wait {_seconds(q.max_wait.seconds)}, then {then}"
        lines.append(f"  {'':<{width}}{detail}")
    return lines


def _profile_lines(config: Config) -> list[str]:
    lines = []
    width = max(len(p) for p in config.profiles) + 2
    users = Counter(a.profile for a in config.agents.values())
    for p in config.profiles.values():
        queues = " ".join(f"{pq.queue}({pq.priority}{f', +{pq.delay:g}s' if pq.delay else ''})" for pq in p.queues)
        capacity = ", ".join(f"{ch} {n}" for ch, n in p.capacity.items())
        capacity = f" | capacity {capacity}" if capacity else ""
        lines.append(f"  {p.name:<{width}}{queues}{capacity} | {_count(users[p.name], 'agent')}")
    return lines


def _agent_lines(config: Config) -> list[str]:
    agents = config.agents.values()
    per_skill = []
    for skill in config.skills:
        levels = sorted(a.skills[skill] for a in agents if skill in a.skills)
        span = f" (levels {levels[0]}-{levels[-1]})" if levels and levels[0] != levels[-1] else ""
        span = f" (level {levels[0]})" if levels and not span else span
        per_skill.append(f"{skill} {len(levels)}{span}")
    per_channel = []
    for ch in config.channels:
        workers = [a for a in agents if ch in a.channels]
        per_channel.append(f"{ch} {len(workers)} (capacity {sum(config.capacity(a, ch) for a in workers)})")
    return _wrapped("  by skill    ", per_skill) + _wrapped("  by channel  ", per_channel)


def _serving(config: Config, queue: Queue) -> int:
    """Agents who can ever take a contact of ``queue``: serving it, on one of its channels, skilled."""
    steps = [queue.requirements, *(s.requirements for s in queue.escalation)]
    return sum(
        1
        for a in config.agents.values()
        if queue.name in agent_queues(config, a)
        and set(a.channels) & set(queue.channels)
        and any(meets(a.skills, reqs) for reqs in steps)
    )


def _seconds(value: float) -> str:
    return f"{value:g}s"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _needs(requirements: Sequence[SkillRequirement]) -> str:
    return ", ".join(f"{r.skill}>={r.min_level}" for r in requirements) or "no skill"


def _wrapped(head: str, items: list[str], width: int = 100) -> list[str]:
    """``items`` joined by commas after ``head``, broken between items to fit ``width``."""
    items = items or ["none"]
    pieces = [item + ("," if i < len(items) - 1 else "") for i, item in enumerate(items)]
    rows: list[list[str]] = [[]]
    for piece in pieces:
        if rows[-1] and len(head) + len(" ".join([*rows[-1], piece])) > width:
            rows.append([])
        rows[-1].append(piece)
    return [(head if i == 0 else " " * len(head)) + " ".join(row) for i, row in enumerate(rows)]


if __name__ == "__main__":
    # Run the module's imported copy, so that commands registered by other modules land in one registry.
    from router.cli import main as _main

    raise SystemExit(_main())
