"""The connector endpoint (``/v1/connector``): WhatsApp, SMS, Instagram or email bridges.

A connector logs in with its name and token and posts ``inbound`` messages. A message from a sender
whose conversation is still open (queued, on offer or connected) joins it; otherwise it starts a new
contact in the connector's queue (or the one it names). Agents' replies come back to the connector's
connections as ``outbound`` (contact, channel, to, text) for it to send; ``closed`` tells it a
conversation ended. Senders' addresses never appear in key names (hashed) or in logs.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from router.events import Event, EventType
from router.gateway import webchat
from router.gateway.auth import credential_ok
from router.gateway.peer import Peer
from router.gateway.protocol import ConnectorLogin, ErrorCode, ForwardedSurvey, Inbound, Ping, ProtocolError
from router.gateway.sessions import Refused

if TYPE_CHECKING:
    from router.gateway.server import Gateway


async def handle(gw: Gateway, peer: Peer, cmd: Any) -> None:
    if isinstance(cmd, Ping):
        await peer.ack(cmd.id, "ping")
        return
    if isinstance(cmd, ConnectorLogin):
        if peer.user:
            raise ProtocolError(ErrorCode.ALREADY_LOGGED_IN, f"already logged in as {peer.user}", id=cmd.id)
        credential = gw.settings.connectors.get(cmd.connector)
        if not credential_ok(credential, cmd.token):
            raise ProtocolError(ErrorCode.UNAUTHORIZED, "unknown connector or wrong token", id=cmd.id)
        peer.user = cmd.connector
        gw.connectors.setdefault(cmd.connector, set()).add(peer)
        await peer.ack(cmd.id, "login", connector=cmd.connector, channels=list(credential.channels))
        return
    if not peer.user:
        raise ProtocolError(ErrorCode.NOT_LOGGED_IN, "log in first", id=cmd.id)
    if isinstance(cmd, Inbound):
        contact_id, new = await inbound(gw, peer.user, cmd)
        await peer.ack(cmd.id, "inbound", contact=contact_id, new=new)
    elif isinstance(cmd, ForwardedSurvey):
        if not 1 <= cmd.score <= 5:
            raise ProtocolError(ErrorCode.BAD_FIELD, "'survey.score' must be 1 to 5", id=cmd.id)
        contact = await gw.store.contact(cmd.contact)
        if not contact:
            raise ProtocolError(ErrorCode.NOT_FOUND, "no such contact", id=cmd.id)
        if webchat.connector_of(contact) != peer.user:
            raise ProtocolError(ErrorCode.FORBIDDEN, "that conversation is not this connector's", id=cmd.id)
        await gw.record_survey(cmd.contact, cmd.score, gw.clock())
        await peer.ack(cmd.id, "survey", contact=cmd.contact, score=cmd.score)


async def inbound(gw: Gateway, connector: str, cmd: Inbound) -> tuple[str, bool]:
    """Put an inbound message in its conversation: (contact id, whether the contact is new)."""
    credential = gw.settings.connectors[connector]
    if cmd.channel not in credential.channels:
        raise ProtocolError(ErrorCode.FORBIDDEN, f"this connector may not post on {cmd.channel!r}", id=cmd.id)
    if not cmd.sender.strip() or not cmd.text.strip():
        raise ProtocolError(ErrorCode.BAD_FIELD, "'inbound' needs a non-empty 'from' and 'text'", id=cmd.id)
    now = gw.clock()
    seen = await gw.state.conversation(cmd.channel, cmd.sender)
    for _ in range(3):
        if seen:
            try:
                await gw.say(seen, "customer", "", cmd.text, now)
                return seen, False
            except Refused as exc:
                if exc.code not in ("not_found", "illegal_state"):
                    raise
        queue = _queue(gw, cmd, credential.queue)
        new_id = uuid.uuid4().hex
        claimed, holder = await gw.state.claim_conversation(cmd.channel, cmd.sender, seen, new_id)
        if not claimed:
            seen = holder  # another process started it a moment ago: join that one
            continue
        attrs = {"connector": connector, "address": cmd.sender, "source": connector}
        identifiers = {"phone": cmd.sender} if cmd.channel in ("whatsapp", "sms") else {cmd.channel: cmd.sender}
        if cmd.crm:
            identifiers["crm"] = cmd.crm
        customer, queue = await gw.admit(new_id, identifiers, cmd.channel, queue, chosen=bool(cmd.queue))
        await gw.router.enqueue(queue, cmd.channel, customer=customer, contact_id=new_id, attrs=attrs)
        await gw.say(new_id, "customer", "", cmd.text, now)
        return new_id, True
    raise ProtocolError(ErrorCode.INTERNAL, "could not settle the conversation; send again", id=cmd.id)


def _queue(gw: Gateway, cmd: Inbound, default: str) -> str:
    name = cmd.queue or default
    if not name:
        name = next((q.name for q in gw.config.queues.values() if cmd.channel in q.channels), "")
    queue = gw.config.queues.get(name)
    if queue is None:
        raise ProtocolError(ErrorCode.NOT_FOUND, f"no queue {name!r}", id=cmd.id)
    if cmd.channel not in queue.channels:
        raise ProtocolError(ErrorCode.BAD_FIELD, f"queue {name!r} does not take {cmd.channel}", id=cmd.id)
    return name


async def outbound(gw: Gateway, connector: str, contact_id: str, channel: str, address: str, text: str) -> int:
    """An agent's reply, to every connection of the connector (it sends it on); returns how many got it."""
    sent = 0
    for peer in list(gw.connectors.get(connector, ())):
        sent += await peer.push("outbound", contact=contact_id, channel=channel, to=address, text=text)
    return sent


async def on_event(gw: Gateway, event: Event, connector: str) -> None:
    if event.type not in (EventType.CONTACT_COMPLETED, EventType.CONTACT_ABANDONED, EventType.CONTACT_OVERFLOWED):
        return
    contact = event.contact or {}
    for peer in list(gw.connectors.get(connector, ())):
        await peer.push(
            "closed", contact=contact.get("id"), channel=contact.get("channel"), reason=str(event.type).split(".", 1)[1]
        )
