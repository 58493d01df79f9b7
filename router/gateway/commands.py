"""The gateway's CLI commands: ``omniroute demo``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from router.cli import command, read_config
from router.gateway.config import GatewayConfig
from router.gateway.demo import Demo, DemoError, DemoSettings

DEMO_CHANNELS = ("chat", "whatsapp")  # what the demo's customers use


def _demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", default="ws://127.0.0.1:8765", help="the running gateway (default %(default)s)")
    parser.add_argument(
        "--agents",
        help="comma-separated agent ids to drive (default: every agent of --config taking chat or WhatsApp, "
        "except those in --leave-free)",
    )
    parser.add_argument(
        "--leave-free",
        default="a01,a04",
        help="agents the demo leaves for you to log in as in the browser (default %(default)s)",
    )
    parser.add_argument("--token-prefix", default="demo-", help="agent token = prefix + id (default %(default)s)")
    parser.add_argument("--connector", default="demo-whatsapp", help="connector name (default %(default)s)")
    parser.add_argument("--connector-token", default="demo-connector", help="its token (default %(default)s)")
    parser.add_argument("--rate", type=float, default=4.0, help="customers per minute, Poisson (default 4)")
    parser.add_argument("--web-share", type=float, default=0.6, help="share on web chat; the rest WhatsApp (0.6)")
    parser.add_argument("--leave-share", type=float, default=0.15, help="web customers who may give up (0.15)")
    parser.add_argument("--break-share", type=float, default=0.1, help="chance of a break after a contact (0.1)")
    parser.add_argument("--pace", type=float, default=1.0, help="multiplies every delay; 0.2 is 5x faster (1.0)")
    parser.add_argument("--duration", type=float, default=0.0, help="seconds to run (default: until Ctrl-C)")
    parser.add_argument("--report-every", type=float, default=60.0, help="seconds between status lines (60)")
    parser.add_argument("--seed", type=int, help="random seed, for a repeatable run")


def demo_settings(args: argparse.Namespace) -> DemoSettings | None:
    """The demo's settings from the command line and the config (None after printing why not)."""
    config = read_config(args.config)
    if config is None:
        return None
    problems = []
    for name in ("rate", "pace"):
        if getattr(args, name) <= 0:
            problems.append(f"--{name.replace('_', '-')} must be above 0")
    for name in ("web_share", "leave_share", "break_share"):
        if not 0 <= getattr(args, name) <= 1:
            problems.append(f"--{name.replace('_', '-')} must be between 0 and 1")
    if args.agents:
        agents = tuple(a.strip() for a in args.agents.split(",") if a.strip())
        problems += [f"--agents: no agent {a!r} in {args.config}" for a in agents if a not in config.agents]
    else:
        free = {a.strip() for a in args.leave_free.split(",")}
        agents = tuple(
            a.id for a in config.agents.values() if a.id not in free and set(a.channels) & set(DEMO_CHANNELS)
        )
    gateway = config.gateway if isinstance(config.gateway, GatewayConfig) else GatewayConfig()
    if args.connector not in gateway.connectors:
        problems.append(f"--connector: no connector {args.connector!r} in the gateway section of {args.config}")
    if problems:
        for p in problems:
            print(f"demo: {p}", file=sys.stderr)
        return None
    return DemoSettings(
        url=args.url.rstrip("/"),
        agents=agents,
        token_prefix=args.token_prefix,
        connector=args.connector,
        connector_token=args.connector_token,
        topics=(*gateway.chat.topics, ""),
        rate=args.rate,
        web_share=args.web_share,
        leave_share=args.leave_share,
        break_share=args.break_share,
        pace=args.pace,
        duration=args.duration,
        report_every=args.report_every,
        seed=args.seed,
    )


@command("demo", "drive scripted agents and customers through a running omniroute serve", _demo_arguments)
def cmd_demo(args: argparse.Namespace) -> int:
    settings = demo_settings(args)
    if settings is None:
        return 2
    print(
        f"demo: {len(settings.agents)} scripted agents ({', '.join(settings.agents)}), "
        f"{settings.rate:g} customers a minute on web chat and WhatsApp, against {settings.url}",
        flush=True,
    )
    print("demo: watch it on the wallboard (/wallboard); Ctrl-C stops (agents finish and log off)", flush=True)

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        try:
            await Demo(settings, out=lambda line: print(line, flush=True)).run(stop)
        except DemoError as exc:
            print(f"demo: {exc}", file=sys.stderr)
            return 1
        return 0

    return asyncio.run(main())
