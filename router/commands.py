"""The router's CLI commands: ``serve``, ``contact add``, ``queue stats``, ``agent list``.

Each body takes the parsed config, the Redis URL and the argparse namespace, prints, and returns an exit
code; :func:`_with_config` registers it with the CLI, reading ``--config`` first.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import sys
import time

from router.cli import command, read_config
from router.config.model import Config
from router.errors import StaleDecision
from router.lifecycle import AgentState
from router.serve import serve
from router.stats import agent_states, queue_stats
from router.store import RedisStore, connect
from skills.model import SkillRequirement


def _with_config(name: str, help: str, arguments=None):
    """Register ``body(config, redis_url, args)`` as the subcommand ``name``."""

    def register(body):
        def handler(args: argparse.Namespace) -> int:
            config = read_config(args.config)
            if config is None:
                return 1
            return body(config, args.redis, args)

        command(name, help, arguments)(handler)
        return body

    return register


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}s"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def _serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, help="the gateway's port (default: gateway.port; 0 picks a free one)")
    parser.add_argument("--host", help="the gateway's address (default: gateway.host)")
    parser.add_argument("--no-gateway", action="store_true", help="run the router only (no websockets, no pages)")


@_with_config("serve", "run the router and the websockets gateway against Redis until interrupted", _serve_arguments)
def cmd_serve(config: Config, redis_url: str, args: argparse.Namespace) -> int:
    from dataclasses import replace

    from router.gateway.config import GatewayConfig

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.port is not None or args.host:
        gateway = config.gateway if isinstance(config.gateway, GatewayConfig) else GatewayConfig()
        changes = {k: v for k, v in (("port", args.port), ("host", args.host)) if v is not None}
        config = replace(config, gateway=replace(gateway, **changes))
    print(f"omniroute serve: tenant {config.tenant}, {len(config.queues)} queues, {len(config.agents)} agents")
    print(f"  router on {re.sub(r'//([^@/]*:)?[^@/]*@', '//***@', redis_url)}", flush=True)  # no password shown
    try:
        asyncio.run(serve(config, redis_url, gateway=not args.no_gateway))
    except OSError as exc:
        print(f"omniroute serve: cannot start the gateway: {exc}", file=sys.stderr)
        return 1
    return 0


async def _with_store(config: Config, redis_url: str, body):
    client = await connect(redis_url, tenant=config.tenant)
    try:
        store = RedisStore(client, config)
        return await body(store)
    finally:
        await client.aclose()


def _contact_add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--queue", required=True, help="the queue to put it in")
    parser.add_argument("--channel", help="its channel (default: the queue's first)")
    parser.add_argument("--customer", help="the customer's id (for last-agent preference)")
    parser.add_argument("--priority", type=int, help="priority (default: the queue's)")
    parser.add_argument("--skill", action="append", metavar="SKILL=LEVEL", help="an extra requirement, repeatable")
    parser.add_argument("--id", help="the contact's id (default: a new random one)")


@_with_config("contact add", "put a contact in a queue", _contact_add_arguments)
def cmd_contact_add(config: Config, redis_url: str, args: argparse.Namespace) -> int:
    if args.queue not in config.queues:
        print(f"unknown queue {args.queue!r}; queues: {', '.join(config.queues)}")
        return 1
    queue = config.queues[args.queue]
    channel = args.channel or queue.channels[0]
    if channel not in queue.channels:
        print(f"queue {args.queue} does not take {channel!r}; it takes {', '.join(queue.channels)}")
        return 1
    skills = tuple(
        SkillRequirement(skill=s.partition("=")[0], min_level=int(s.partition("=")[2] or 1)) for s in args.skill or ()
    )

    async def body(store: RedisStore) -> int:
        from router.client import RouterClient

        result = await RouterClient(store).enqueue(
            args.queue,
            channel,
            customer=args.customer or "",
            contact_id=args.id,
            priority=args.priority,
            skills=skills,
        )
        c = result.contact
        print(f"contact {c.id} queued in {c.queue} on {c.channel} (priority {c.priority}, place {c.seq})")
        return 0

    try:
        return asyncio.run(_with_store(config, redis_url, body))
    except StaleDecision as exc:
        print(f"refused: {exc}")
        return 1


@_with_config("queue stats", "live figures per queue and today's service level")
def cmd_queue_stats(config: Config, redis_url: str, args: argparse.Namespace) -> int:
    rows = asyncio.run(_with_store(config, redis_url, lambda store: queue_stats(store, time.time())))
    header = (
        f"{'queue':<14}{'waiting':>8}{'oldest':>8}{'offered':>8}{'talking':>8}{'agents':>7}"
        f"{'answered':>9}{'abandon':>8}{'SL ans':>7}{'SL all':>7}{'ASA':>6}"
    )
    print(header)
    for r in rows:
        sl = r.today
        print(
            f"{r.queue:<14}{r.waiting:>8}{_seconds(r.oldest_wait):>8}{r.offered:>8}{r.connected:>8}"
            f"{r.agents_available:>7}{sl.answered:>9}{sl.abandoned:>8}{_percent(sl.of_answered):>7}"
            f"{_percent(sl.of_offered):>7}{_seconds(sl.asa):>6}"
        )
    print("SL ans: answered within target / answered; SL all: (answered + abandoned within) / (answered + abandoned)")
    return 0


def _agent_list_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state", choices=[s.value for s in AgentState], help="only agents in this state")


@_with_config("agent list", "agents with their live state, load and skills", _agent_list_arguments)
def cmd_agent_list(config: Config, redis_url: str, args: argparse.Namespace) -> int:
    states = asyncio.run(_with_store(config, redis_url, agent_states))
    now = time.time()
    print(f"{'agent':<8}{'name':<22}{'state':<10}{'reason':<15}{'load':<18}{'idle':>7}  skills")
    for agent_id, agent in config.agents.items():
        live = states[agent_id]
        if args.state and live.state != AgentState(args.state):
            continue
        load = ",".join(f"{ch}:{n}" for ch, n in sorted(live.load.items())) or "-"
        idle = _seconds(now - live.idle_since) if live.state == AgentState.AVAILABLE and not live.load else "-"
        skills = " ".join(f"{s}:{lv}" for s, lv in sorted(agent.skills.items()))
        print(f"{agent_id:<8}{agent.name[:21]:<22}{live.state:<10}{live.reason[:14]:<15}{load:<18}{idle:>7}  {skills}")
    return 0
