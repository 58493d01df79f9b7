"""``omniroute report`` and ``omniroute customer ...``: KPIs and privacy requests from the command line.

Registered by importing this module in :func:`router.cli.main`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from customers.config import settings
from customers.identity import InvalidIdentifier
from customers.report import DAY, build_report, format_table, write_csv
from customers.store import CustomerError, CustomerStore
from customers.timeline import EntryKind
from router.cli import command, read_config
from router.events import Event
from router.store import Keys, connect


def _when(text: str) -> float:
    """An ISO date or date-time (UTC unless it says otherwise) as seconds since the epoch."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date like 2026-09-21 or 2026-09-21T08:00") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def _run(args: argparse.Namespace, work: Callable[[CustomerStore, Any], Awaitable[int]]) -> int:
    config = read_config(args.config)
    if config is None:
        return 1

    async def go() -> int:
        client = await connect(args.redis, tenant=config.tenant)
        try:
            return await work(CustomerStore(client, config.tenant, time.time, settings(config)), client)
        finally:
            await client.aclose()

    try:
        return asyncio.run(go())
    except (CustomerError, InvalidIdentifier) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


# report


def _report_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="start", type=_when, required=True, metavar="DATE",
                        help="first day (UTC, ISO date or date-time)")
    parser.add_argument("--to", dest="end", type=_when, required=True, metavar="DATE",
                        help="end of the period, exclusive (UTC)")
    parser.add_argument("--out", metavar="CSV", help="also write the rows to this CSV file")


@command("report", "cross-channel KPIs (FCR, repeat rate, CSAT, AHT, ASA, response) per channel and queue",
         _report_arguments)
def cmd_report(args: argparse.Namespace) -> int:
    if args.end <= args.start:
        print("error: --to must be after --from", file=sys.stderr)
        return 2

    async def work(store: CustomerStore, client: Any) -> int:
        reach = store.config.fcr_days * DAY
        since_ms = max(0, int((args.start - reach - DAY) * 1000))  # stream ids are never before the event
        events = []
        start = f"{since_ms}-0"
        while True:
            batch = await client.xrange(Keys(store.tenant).events, start, "+", count=5000)
            events += [Event.from_entry(i, f) for i, f in batch]
            if len(batch) < 5000:
                break
            start = "(" + batch[-1][0]
        events = [e for e in events if args.start - reach <= e.at < args.end + reach]
        entries = await store.entries_between(args.start, args.end, (EntryKind.SURVEY, EntryKind.MESSAGE))
        rows = build_report(events, entries, args.start, args.end, store.config.fcr_days)
        print(format_table(rows))
        if args.out:
            with Path(args.out).open("w", newline="", encoding="utf-8") as f:
                write_csv(rows, f)
            print(f"wrote {args.out}")
        return 0

    return _run(args, work)


# customer ...


def _id_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("id", metavar="ID", help="customer id")


def _export_arguments(parser: argparse.ArgumentParser) -> None:
    _id_argument(parser)
    parser.add_argument("--out", metavar="FILE", help="write the JSON here instead of standard output")


@command("customer export", "write everything held about a customer as JSON", _export_arguments)
def cmd_customer_export(args: argparse.Namespace) -> int:
    async def work(store: CustomerStore, _: Any) -> int:
        text = json.dumps(await store.export(args.id), indent=2, ensure_ascii=False)
        if args.out:
            Path(args.out).write_text(text + "\n", encoding="utf-8")
        else:
            print(text)
        return 0

    return _run(args, work)


@command("customer erase", "remove everything held about a customer (and profiles merged into it)", _id_argument)
def cmd_customer_erase(args: argparse.Namespace) -> int:
    async def work(store: CustomerStore, _: Any) -> int:
        counts = await store.erase(args.id)
        print(f"erased {args.id}: {counts['keys']} keys, {counts['identifiers']} identifiers, "
              f"{counts['stream_entries']} stream entries")
        return 0

    return _run(args, work)


def _link_arguments(parser: argparse.ArgumentParser) -> None:
    _id_argument(parser)
    parser.add_argument("kind", metavar="KIND", help="phone, whatsapp, sms, sip, email, crm or form:<field>")
    parser.add_argument("value", metavar="VALUE")


@command("customer link", "link an identifier to a customer", _link_arguments)
def cmd_customer_link(args: argparse.Namespace) -> int:
    async def work(store: CustomerStore, _: Any) -> int:
        linked = await store.link(args.id, args.kind, args.value, by="cli")
        print(f"linked to {args.id}" if linked else f"already linked to {args.id}")
        return 0

    return _run(args, work)


def _merge_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("into", metavar="A", help="the customer that stays")
    parser.add_argument("other", metavar="B", help="the customer merged into A")


@command("customer merge", "merge customer B into A (prints the merge id to undo it)", _merge_arguments)
def cmd_customer_merge(args: argparse.Namespace) -> int:
    async def work(store: CustomerStore, _: Any) -> int:
        print(await store.merge(args.into, args.other, by="cli"))
        return 0

    return _run(args, work)


def _unmerge_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("merge_id", metavar="MERGE_ID")


@command("customer unmerge", "undo a merge", _unmerge_arguments)
def cmd_customer_unmerge(args: argparse.Namespace) -> int:
    async def work(store: CustomerStore, _: Any) -> int:
        await store.undo_merge(args.merge_id, by="cli")
        print(f"merge {args.merge_id} undone")
        return 0

    return _run(args, work)


@command("customer purge", "retention: erase idle customers and drop timeline entries older than retention_days")
def cmd_customer_purge(args: argparse.Namespace) -> int:
    async def work(store: CustomerStore, _: Any) -> int:
        counts = await store.purge()
        print(f"erased {counts['erased']} customers, dropped {counts['entries_dropped']} timeline entries")
        return 0

    return _run(args, work)
