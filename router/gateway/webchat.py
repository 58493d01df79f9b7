"""The web-chat customer endpoint (``/v1/customer``).

A customer starts a chat (name, optional email or phone, a topic or queue, a first message) and gets
back the contact id and a session token; with both it can resume after a reload. It hears its queue
position and estimated wait when they change, when an agent joins or leaves, the agent's messages, and
the end of the chat. It can only ever name its own conversation. Leaving while still queued (or on
offer) is an abandon; leaving a connected chat tells the agent, who completes it.
"""

from __future__ import annotations

import json
import secrets
import uuid
from typing import TYPE_CHECKING, Any

from router.events import Event, EventType
from router.gateway.peer import Peer
from router.gateway.protocol import (
    CustomerMessage,
    ErrorCode,
    Leave,
    Ping,
    ProtocolError,
    ResumeChat,
    StartChat,
    Survey,
)

if TYPE_CHECKING:
    from router.gateway.server import Gateway

OPEN = ("queued", "offered", "connected")


def connector_of(contact: dict[str, str]) -> str:
    """The connector that owns a contact's conversation ('' for web chat and voice)."""
    attrs = contact.get("attrs") or ""
    if '"connector"' not in attrs:
        return ""
    try:
        return str(json.loads(attrs).get("connector", ""))
    except ValueError:
        return ""


async def handle(gw: Gateway, peer: Peer, cmd: Any) -> None:
    now = gw.clock()
    if isinstance(cmd, Ping):
        await peer.ack(cmd.id, "ping")
    elif isinstance(cmd, StartChat):
        await _start(gw, peer, cmd, now)
    elif isinstance(cmd, ResumeChat):
        if not await gw.state.chat_session_ok(cmd.contact, cmd.session):
            raise ProtocolError(ErrorCode.FORBIDDEN, "that conversation is not yours", id=cmd.id)
        _attach(gw, peer, cmd.contact)
        c = await gw.store.contact(cmd.contact)
        await peer.ack(
            cmd.id,
            "resume",
            contact=cmd.contact,
            state=c.get("state", "done"),
            transcript=[_public(m, gw) for m in await gw.state.transcript(cmd.contact)],
        )
    else:
        contact_id = _own(peer, cmd)
        if isinstance(cmd, CustomerMessage):
            posted = await gw.say(contact_id, "customer", "", cmd.text, now)
            await peer.ack(cmd.id, "message", contact=contact_id, seq=posted.message["seq"])
        elif isinstance(cmd, Leave):
            c = await gw.store.contact(contact_id)
            state = c.get("state", "")
            if state in ("queued", "offered"):
                await gw.store.abandon(contact_id, now, "customer_left")
            elif state == "connected":
                await gw.say(contact_id, "system", "", "The customer left the chat.", now)
            await peer.ack(cmd.id, "leave", contact=contact_id, abandoned=state in ("queued", "offered"))
        elif isinstance(cmd, Survey):
            if not 1 <= cmd.score <= 5:
                raise ProtocolError(ErrorCode.BAD_FIELD, "'survey.score' must be 1 to 5", id=cmd.id)
            await gw.record_survey(contact_id, cmd.score, now)
            await peer.ack(cmd.id, "survey", contact=contact_id, score=cmd.score)


def _own(peer: Peer, cmd: Any) -> str:
    if not peer.contact:
        raise ProtocolError(ErrorCode.NOT_LOGGED_IN, "start or resume a chat first", id=cmd.id)
    if cmd.contact and cmd.contact != peer.contact:
        raise ProtocolError(ErrorCode.FORBIDDEN, "that conversation is not yours", id=cmd.id)
    return peer.contact


def _detach(gw: Gateway, peer: Peer) -> None:
    peers = gw.customers.get(peer.contact)
    if peers is not None:
        peers.discard(peer)
        if not peers:
            del gw.customers[peer.contact]
    peer.contact = ""


def _attach(gw: Gateway, peer: Peer, contact_id: str) -> None:
    if peer.contact and peer.contact != contact_id:
        _detach(gw, peer)
    peer.contact = contact_id
    gw.customers.setdefault(contact_id, set()).add(peer)


async def _start(gw: Gateway, peer: Peer, cmd: StartChat, now: float) -> None:
    if peer.contact:
        raise ProtocolError(ErrorCode.ILLEGAL_STATE, "this connection already has a chat", id=cmd.id)
    chat = gw.settings.chat
    if not cmd.name.strip() or not cmd.text.strip():
        raise ProtocolError(ErrorCode.BAD_FIELD, "'start' needs a non-empty 'name' and 'text'", id=cmd.id)
    if cmd.queue:
        queue = cmd.queue
    elif cmd.topic:
        if cmd.topic not in chat.topics:
            raise ProtocolError(ErrorCode.NOT_FOUND, f"no topic {cmd.topic!r}", id=cmd.id)
        queue = chat.topics[cmd.topic]
    else:
        queue = chat.queue or next((q.name for q in gw.config.queues.values() if chat.channel in q.channels), "")
    q = gw.config.queues.get(queue)
    if q is None:
        raise ProtocolError(ErrorCode.NOT_FOUND, f"no queue {queue!r}", id=cmd.id)
    if chat.channel not in q.channels:
        raise ProtocolError(ErrorCode.BAD_FIELD, f"queue {queue!r} does not take {chat.channel}", id=cmd.id)
    contact_id = uuid.uuid4().hex
    token = secrets.token_urlsafe(24)
    attrs = {"name": cmd.name.strip(), "source": "web"}
    attrs.update((k, v) for k, v in (("email", cmd.email), ("phone", cmd.phone), ("topic", cmd.topic)) if v)
    identifiers = {"email": cmd.email, "phone": cmd.phone}
    customer, queue = await gw.admit(contact_id, identifiers, chat.channel, queue, chosen=bool(cmd.queue or cmd.topic))
    await gw.state.new_chat_session(contact_id, token)
    _attach(gw, peer, contact_id)  # before the enqueue: the agent may join at once
    try:
        await gw.router.enqueue(queue, chat.channel, customer=customer, contact_id=contact_id, attrs=attrs)
    except BaseException:
        _detach(gw, peer)
        raise
    posted = await gw.say(contact_id, "customer", "", cmd.text, now)
    await peer.ack(cmd.id, "start", contact=contact_id, session=token, queue=queue, seq=posted.message["seq"])


def _public(m: dict[str, Any], gw: Gateway) -> dict[str, Any]:
    """A transcript line as a customer sees it (an agent's first name, never its id)."""
    out = {"from": m["from"], "text": m["text"], "at": m["at"], "seq": m["seq"]}
    if m.get("agent"):
        out["agent_name"] = gw.agent_first_name(m["agent"])
    return out


async def on_event(gw: Gateway, event: Event, contact_id: str) -> None:
    """Tell the customer's connections what happened to their contact."""
    t = event.type
    if t == EventType.CONTACT_ACCEPTED:
        body = ("agent_joined", {"agent_name": gw.agent_first_name((event.contact or {}).get("agent", ""))})
    elif t == EventType.CONTACT_REQUEUED:
        body = ("agent_left", {})
    elif t == EventType.CONTACT_TRANSFERRED:
        body = ("transferred", {"queue": (event.contact or {}).get("queue")})
    elif t == EventType.CONTACT_COMPLETED:
        body = ("ended", {"reason": "completed"})
    elif t == EventType.CONTACT_ABANDONED:
        body = ("ended", {"reason": "left"})
    elif t == EventType.CONTACT_OVERFLOWED:
        body = ("ended", {"reason": "no_agent"})
    else:
        return
    if t in (EventType.CONTACT_ACCEPTED, EventType.CONTACT_COMPLETED, EventType.CONTACT_ABANDONED):
        gw.positions.pop(contact_id, None)
    for peer in list(gw.customers.get(contact_id, ())):
        await peer.push(body[0], contact=contact_id, **body[1])


async def send_positions(gw: Gateway) -> None:
    """Queue position and estimated wait to every waiting customer here, when they changed."""
    if not gw.customers:
        return
    ids = list(gw.customers)
    client = gw.store.client
    pipe = client.pipeline(transaction=False)
    for cid in ids:
        pipe.hmget(gw.store.keys.contact(cid), ["state", "queue", "channel"])
    rows = await pipe.execute()
    pipe = client.pipeline(transaction=False)
    waiting = [(cid, row) for cid, row in zip(ids, rows, strict=True) if row[0] == "queued"]
    for cid, row in waiting:
        pipe.zrank(gw.store.keys.queue(row[1]), cid)
    ranks = await pipe.execute() if waiting else []
    for (cid, row), rank in zip(waiting, ranks, strict=True):
        if rank is None:
            continue
        position = rank + 1
        estimate = gw.estimate(row[1], position, row[2])
        if gw.positions.get(cid) != (position, estimate):
            gw.positions[cid] = (position, estimate)
            for peer in list(gw.customers.get(cid, ())):
                await peer.push("queue", contact=cid, position=position, estimated_wait=estimate)
