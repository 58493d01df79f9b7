"""``/metrics`` scraped over HTTP around real traffic: the counters move as the traffic implies, and the
exposition passes ``promtool check metrics``."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import urllib.request
from collections.abc import Callable

from prometheus_client.parser import text_string_to_metric_families

from tests.gateway.stack import Peer, Stack, agent, customer, gateway_config

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(stack: Stack) -> tuple[str, Samples]:
    """The exposition text of ``/metrics`` and its samples by (name, labels)."""

    def get() -> tuple[int, str, str]:
        with urllib.request.urlopen(stack.http + "/metrics", timeout=5) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode()

    status, content_type, text = await asyncio.to_thread(get)
    assert status == 200 and content_type.startswith("text/plain; version=0.0.4"), (status, content_type)
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return text, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """A sample's value; 0 when the series does not exist yet (a counter never incremented)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


async def until(stack: Stack, check: Callable[[Samples], bool], what: str, timeout: float = 8.0) -> Samples:
    """Scrape until ``check`` holds (gauges are refreshed every ``gateway.stats_every`` second)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        _, samples = await scrape(stack)
        if check(samples):
            return samples
        if asyncio.get_running_loop().time() > deadline:
            shown = {k[0] + str(dict(k[1])): v for k, v in samples.items() if "created" not in k[0]}
            raise AssertionError(f"/metrics never showed {what} within {timeout}s; last scrape: {shown}")
        await asyncio.sleep(0.2)


def promtool_check(text: str) -> None:
    """``promtool check metrics`` on the exposition: exit 0 and not a word of complaint."""
    promtool = shutil.which("promtool")
    assert promtool, "promtool is not installed: run `scripts/bootstrap.sh promtool` (Debian package prometheus)"
    done = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    problems = (done.stdout + done.stderr).strip()
    assert done.returncode == 0 and not problems, f"promtool check metrics (exit {done.returncode}):\n{problems}"


async def test_metrics_follow_the_traffic_and_pass_promtool(redis_url: str, tenant: str) -> None:
    config = gateway_config(tenant, offer_timeout=1, reject_delay=60, chat_capacity=1)
    async with Stack(config, redis_url) as s:
        text, before = await scrape(s)
        promtool_check(text)

        # Four customers queue while no agent is logged in; the last leaves before anyone answers.
        customers: list[Peer] = []
        for topic in ("buying", "buying", "help", "buying"):
            peer, started = await customer(s.url, "hi", topic=topic)
            await peer.expect("queue", contact=started["contact"])
            customers.append(peer)
        await until(
            s,
            lambda m: value(m, "omniroute_queue_waiting", queue="sales") == 3
            and value(m, "omniroute_queue_waiting", queue="support") == 1,
            "3 waiting in sales and 1 in support",
        )
        leaver = customers.pop()
        left = await leaver.call("leave")
        assert left["type"] == "ack" and left["abandoned"] is True, left
        await leaver.close()
        await until(
            s,
            lambda m: value(m, "omniroute_queue_waiting", queue="sales") == 2
            and value(m, "omniroute_websocket_connections", endpoint="customer") == 3,
            "2 waiting in sales and 3 customers connected after one left",
        )

        # a1 lets its first offer expire and rejects the next (then gets nothing for reject_delay); a2 answers
        # the three contacts left, one at a time (chat capacity 1), completing each.
        ana = await agent(s.url, "a1")
        first = await ana.expect("offer")
        revoked = await ana.expect("offer_revoked", timeout=5)
        assert revoked["offer"] == first["offer"] and revoked["reason"] == "expired"
        second = await ana.expect("offer", timeout=5)
        assert (await ana.call("reject", offer=second["offer"]))["type"] == "ack"
        bruno = await agent(s.url, "a2")
        answered: list[dict] = []
        for _ in range(3):
            offer = await bruno.expect("offer", timeout=5)
            assert (await bruno.call("accept", offer=offer["offer"]))["type"] == "ack"
            assert (await bruno.call("complete", contact=offer["contact"]["id"], disposition="ok"))["type"] == "ack"
            answered.append(offer["contact"])
        offers_seen = sum(1 for p in (ana, bruno) for m in p.seen if m["type"] == "offer")
        assert offers_seen == 5, [m for p in (ana, bruno) for m in p.seen if m["type"] == "offer"]

        after = await until(
            s,
            lambda m: value(m, "omniroute_queue_waiting", queue="sales") == 0
            and value(m, "omniroute_queue_waiting", queue="support") == 0
            and value(m, "omniroute_websocket_connections", endpoint="agent") == 2
            and value(m, "omniroute_websocket_connections", endpoint="customer") == 3
            and value(m, "omniroute_agents", state="offline") == 1,
            "empty queues, 2 agents and 3 customers connected, 1 agent offline",
        )
        text, _ = await scrape(s)
        promtool_check(text)

        def moved(name: str, **labels: str) -> float:
            return value(after, name, **labels) - value(before, name, **labels)

        sales, support = {"queue": "sales", "channel": "chat"}, {"queue": "support", "channel": "chat"}
        assert moved("omniroute_contacts_offered_total", **sales) == 3
        assert moved("omniroute_contacts_offered_total", **support) == 1
        assert moved("omniroute_contacts_abandoned_total", **sales) == 1
        assert moved("omniroute_contacts_abandoned_total", **support) == 0
        by_queue = {q: sum(1 for c in answered if c["queue"] == q) for q in ("sales", "support")}
        assert by_queue == {"sales": 2, "support": 1}
        for labels in (sales, support):
            n = by_queue[labels["queue"]]
            assert moved("omniroute_contacts_answered_total", **labels) == n, labels
            assert moved("omniroute_wait_seconds_count", **labels) == n, labels
            assert value(after, "omniroute_wait_seconds_bucket", le="+Inf", **labels) == n, labels
        # The contact that was offered first waited through the one-second expiry before its answer.
        first_queue = {"queue": first["contact"]["queue"], "channel": "chat"}
        assert moved("omniroute_wait_seconds_sum", **first_queue) >= 1.0
        assert value(after, "omniroute_wait_seconds_bucket", le="1.0", **first_queue) < by_queue[first_queue["queue"]]
        assert moved("omniroute_offers_total", outcome="sent") == offers_seen
        assert moved("omniroute_offers_total", outcome="expired") == 1
        assert moved("omniroute_offers_total", outcome="rejected") == 1
        assert moved("omniroute_offers_total", outcome="accepted") == 3
        assert moved("omniroute_offers_total", outcome="revoked") == 0

        for p in (ana, bruno, *customers):
            await p.close()
        await until(
            s,
            lambda m: value(m, "omniroute_websocket_connections", endpoint="agent") == 0
            and value(m, "omniroute_websocket_connections", endpoint="customer") == 0,
            "no connections once everyone hung up",
        )
