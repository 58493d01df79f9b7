"""Timelines from the router's real event stream: contact start, disposition, note, end, abandonment;
reading the stream again adds nothing."""

from __future__ import annotations

from customers.follow import follow
from customers.store import CustomerStore
from customers.timeline import EntryKind
from router.store import RedisStore
from tests.customers import routing


async def test_lifecycle_events_become_timeline_entries_once(client, tenant, clock) -> None:
    config = routing.config(tenant)
    router = RedisStore(client, config)
    customers = CustomerStore(client, tenant, clock, config.customers)
    t = clock.now
    await routing.agents_available(router, t)
    cid = await customers.identify({"phone": "+12025550143"}, contact_id="k1")
    await routing.handle(router, "k1", "support", "chat", cid, "a2", t, 5, 60, disposition="refund",
                         note="card charged twice")
    await routing.arrive(router, "k2", "sales", "voice", cid, t + 600)
    await router.abandon("k2", t + 630)
    await routing.handle(router, "k3", "sales", "voice", "", "a1", t + 700, 5, 60)  # no customer: ignored

    position = await follow(customers, "0")
    entries = await customers.timeline(cid)
    assert [(e.kind, e.contact) for e in entries] == [
        (EntryKind.CONTACT_STARTED, "k1"),
        (EntryKind.DISPOSITION, "k1"),
        (EntryKind.NOTE, "k1"),
        (EntryKind.CONTACT_ENDED, "k1"),
        (EntryKind.CONTACT_STARTED, "k2"),
        (EntryKind.CONTACT_ENDED, "k2"),
    ]
    assert entries[1].data == {"code": "refund"} and entries[1].agent == "a2"
    assert entries[2].data == {"text": "card charged twice"} and entries[3].at == t + 65
    assert entries[4].data["continued"] is True  # back within the hour: same case
    assert entries[5].data["outcome"] == "abandoned"
    case = await customers.case(cid)
    assert case.last_agent == "a2" and case.contacts == 2 and case.queue == "sales"

    assert await follow(customers, "0") == position  # a restarted follower reads it all again...
    assert len(await customers.timeline(cid)) == 6  # ...and adds nothing
    assert await follow(customers, position, block_ms=10) == position  # nothing new
