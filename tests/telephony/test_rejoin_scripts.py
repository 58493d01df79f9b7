"""telephony/lua/tel_left.lua and tel_rejoin.lua on real Redis: who may take an abandoned place back."""

from __future__ import annotations

import json

from router.config import loads
from router.store import RedisStore, connect
from telephony.state import SCRIPTS, rejoin_key

YAML = """tenant: {tenant}
channels: {{voice: {{capacity: 1, exclusive: true}}}}
skills: [sales]
queues:
  sales: {{channels: [voice], skills: {{sales: 1}}}}
"""
WINDOW = 120.0


async def test_an_abandoned_place_is_taken_back_once_within_the_window_and_never_after(redis_url, tenant):
    client = await connect(redis_url, tenant=tenant)
    store = RedisStore(client, loads(YAML.format(tenant=tenant)))
    store.add_scripts("telephony", SCRIPTS)
    k = store.keys
    note = rejoin_key(k.prefix, "cust1")

    async def left(cid: str) -> list:
        return await store.eval("tel_left", [note, k.contact(cid)], [cid, repr(WINDOW)])

    async def rejoin(old: str, new: str, now: float) -> list:
        fields = await store.contact(old)
        keys = [note, k.contact(old), k.contact(new), k.queue("sales"), fields["lane"], k.contacts, k.events]
        return await store.eval(
            "tel_rejoin", keys, [old, new, repr(now), repr(WINDOW), store.maxlen, '{"worker": "w2"}']
        )

    try:
        now = 1000.0
        await store.enqueue("a", "sales", "voice", now, customer="cust1", attrs={"worker": "w1", "topic": "sales"})
        await store.enqueue("b", "sales", "voice", now + 5, customer="cust2")
        assert (await left("a"))[:2] == ["err", "not_abandoned"]  # still waiting: nothing to note
        await store.abandon("a", now + 10, "caller_hangup")
        assert (await left("a"))[0] == "ok"
        assert 0 < await client.ttl(note) <= WINDOW

        assert (await rejoin("a", "b", now + 20))[:2] == ["err", "dup"]  # the new id must be new
        reply = await rejoin("a", "a2", now + 20)
        assert reply[0] == "ok", reply
        new, old = await store.contact("a2"), await store.contact("a")
        assert (new["state"], new["seq"], new["enqueued_at"], new["customer"]) == (
            "queued",
            old["seq"],
            old["enqueued_at"],
            "cust1",
        )
        assert json.loads(new["attrs"]) == {"worker": "w2", "topic": "sales", "rejoined": "a"}
        assert old["state"] == "abandoned"  # the first call stays an abandon in the reports
        assert await store.queue_ids("sales") == ["a2", "b"]  # the old place: ahead of b, who came after
        assert (await rejoin("a", "a3", now + 21))[:2] == ["err", "no_place"]  # used once

        await store.abandon("a2", now + 30, "caller_hangup")
        await left("a2")
        assert (await rejoin("a2", "a4", now + 30 + WINDOW + 1))[:2] == ["err", "expired"]  # too late
        assert await client.exists(note) == 0
        assert await store.queue_ids("sales") == ["b"]
    finally:
        await client.aclose()
