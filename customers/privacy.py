"""Privacy: export everything held about a customer, erase it (GDPR and LGPD requests), and retention.

Erase reaches beyond the customers' own keys: the router's last-agent key, contact hashes and event
stream entries, and the gateway's transcripts, chat-session digests, conversation keys and chat stream
entries of the customer's contacts (names in :class:`customers.keys.CustomerKeys`).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from customers.store import SCAN_BATCH, CustomerError, CustomerStore

log = logging.getLogger(__name__)



async def export(store: CustomerStore, cid: str) -> dict[str, Any]:
    """Everything held about the customer (and profiles merged into it), as JSON-able data."""
    cid = await store.resolve(cid)
    family = await store.family(cid)
    profiles, merges, contacts = [], [], set()
    for c in family:
        profiles.append((await store.profile(c)).to_json())
        contacts |= await store.client.smembers(store.keys.contacts(c))
        for mid in sorted(await store.client.smembers(store.keys.merges(c))):
            rec = await store.client.hgetall(store.keys.merge(mid))
            if rec and rec not in merges:
                merges.append(rec)
    case = await store.case(cid)
    router = {}
    for contact in sorted(contacts):
        h = await store.client.hgetall(f"{store.keys.root}contact:{contact}")
        transcript = await store.client.lrange(f"{store.keys.root}transcript:{contact}", 0, -1)
        router[contact] = {"contact": h, "transcript": [json.loads(m) for m in transcript]}
    return {
        "customer": cid,
        "profiles": profiles,
        "case": case.to_json() if case else None,
        "timeline": [e.to_json() | {"profile": e.customer} for e in await store.timeline(cid)],
        "merges": merges,
        "contacts": router,
    }

async def erase(store: CustomerStore, cid: str) -> dict[str, int]:
    """Remove the customer, the profiles merged into it, their contacts' records and transcripts, and
    every stream entry naming them. Returns counts (keys, identifiers, stream entries).

    Raises:
        CustomerError: not_found; active (a contact of the customer is still being handled).
    """
    cid = await store.resolve(cid)
    family = await store.family(cid)
    k = store.keys
    contacts: set[str] = set()
    idents: set[str] = set()
    merges: set[str] = set()
    for c in family:
        contacts |= await store.client.smembers(k.contacts(c))
        idents |= await store.client.smembers(k.ids(c))
        merges |= await store.client.smembers(k.merges(c))
    if contacts:
        active = await store.client.smismember(k.router_contacts, sorted(contacts))
        if any(active):
            raise CustomerError("erase", "active", "a contact of this customer is still open; retry after it")
    # Merge records naming a profile outside the family (the family was merged into someone, then split)
    # are erased too: they name this customer.
    doomed = [key for c in family for key in k.own(c)] + [k.merge(m) for m in sorted(merges)]
    for c in family:
        doomed += k.foreign(c, sorted(contacts))
    for contact in sorted(contacts):  # a connector's conversation, named by a hash of the sender's address
        channel, attrs = await store.client.hmget(f"{k.root}contact:{contact}", ["channel", "attrs"])
        address = _address(attrs)
        if channel and address:
            doomed.append(k.conversation(channel, address))
    names = set(family) | contacts
    events = await _stream_ids(store, k.events, names, ("cid", "contact"))
    chat = await _stream_ids(store, k.chat, names, ("contact",))
    plan = {"customers": family, "identifiers": sorted(idents), "events": events, "chat": chat}
    reply = await store._eval("erase", [k.index, k.all, k.events, k.chat, *dict.fromkeys(doomed)],
                             [json.dumps(plan)])
    counts = {"keys": int(reply[1]), "identifiers": int(reply[2]), "stream_entries": int(reply[3])}
    log.info("customer %s erased (%d profiles): %s", cid, len(family), counts)
    return counts

async def _stream_ids(store: CustomerStore, stream: str, names: set[str], fields: tuple[str, ...]) -> list[str]:
    """Ids of the stream entries whose ``fields`` name one of ``names`` (contact or customer ids)."""
    out: list[str] = []
    start = "-"
    while True:
        batch = await store.client.xrange(stream, start, "+", count=SCAN_BATCH)
        for entry_id, f in batch:
            if any(f.get(x) in names for x in fields) or _mentions(f.get("contact", ""), names):
                out.append(entry_id)
        if len(batch) < SCAN_BATCH:
            return out
        start = "(" + batch[-1][0]

async def purge(store: CustomerStore, now: float) -> dict[str, int]:
    """Retention: erase customers idle longer than ``retention_days``; drop older timeline entries of
    the others. Run it daily (``omniroute customer purge``)."""
    now = store.clock() if now is None else now
    cutoff = now - store.config.retention
    erased = dropped = 0
    for cid in await store.client.zrangebyscore(store.keys.all, "-inf", f"({cutoff!r}"):
        try:
            if await store.client.hget(store.keys.profile(cid), "merged_into"):
                continue  # erased with the profile it was merged into
            await erase(store, cid)
            erased += 1
        except CustomerError as e:
            log.info("purge: customer %s kept (%s)", cid, e.code)
    async for cid, _ in store.client.zscan_iter(store.keys.all):
        dropped += int(await store._eval("purge_timeline", [store.keys.timeline(cid)], [repr(cutoff)]))
    log.info("purge: %d customers erased, %d timeline entries dropped", erased, dropped)
    return {"erased": erased, "entries_dropped": dropped}


def _address(attrs: str | None) -> str:
    try:
        value = json.loads(attrs or "{}")
    except ValueError:
        return ""
    return str(value.get("address") or "") if isinstance(value, dict) else ""


def _mentions(contact_json: str, names: set[str]) -> bool:
    if not contact_json:
        return False
    try:
        snapshot = json.loads(contact_json)
    except ValueError:
        return False
    return isinstance(snapshot, dict) and (snapshot.get("customer") in names or snapshot.get("id") in names)

