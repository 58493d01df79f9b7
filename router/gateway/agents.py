"""The agent endpoint (``/v1/agent``): login, state, offers, chat, complete, transfer, sessions.

An agent's session outlives its socket: when the socket goes, its outstanding offers are revoked at
once (back in line in their place) and, if it was available, it is set away with reason
``disconnected`` so it gets nothing new; its connected contacts stay its own for ``gateway.grace``
seconds. Logging in again within that time, on any process, resumes the session (state and contacts);
after it the agent goes offline and its open contacts go back to their queues in their place.
"""

from __future__ import annotations

import contextlib
import json
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from customers.store import CustomerError
from router.errors import StaleDecision
from router.events import EventType
from router.gateway import profiles
from router.gateway.auth import agent_token_ok
from router.gateway.peer import Peer
from router.gateway.protocol import (
    Accept,
    AgentLogin,
    AgentMessage,
    Complete,
    EndWrapup,
    ErrorCode,
    LinkIdentifier,
    MergeCustomers,
    Ping,
    ProtocolError,
    Reject,
    SetState,
    Transfer,
    UnmergeCustomers,
    message,
)
from router.lifecycle import AgentState, ContactState
from router.state import agent_queues

if TYPE_CHECKING:
    from router.gateway.server import Gateway
    from router.store import Result

DISCONNECTED = "disconnected"  # the away reason of an agent whose socket is gone, during its grace period
# Events that end an open offer, and the reason its agent is told ('' when the agent caused it).
OFFER_CLOSERS = {
    EventType.CONTACT_ACCEPTED: "",
    EventType.CONTACT_REJECTED: "",
    EventType.CONTACT_OFFER_EXPIRED: "expired",
    EventType.CONTACT_OFFER_REVOKED: "revoked",
    EventType.CONTACT_ABANDONED: "customer_left",
    EventType.CONTACT_REQUEUED: "revoked",
}


async def handle(gw: Gateway, peer: Peer, cmd: Any) -> None:
    if isinstance(cmd, AgentLogin):
        await login(gw, peer, cmd)
        return
    if isinstance(cmd, Ping):
        await peer.ack(cmd.id, "ping")
        return
    if not peer.user:
        raise ProtocolError(ErrorCode.NOT_LOGGED_IN, "log in first", id=cmd.id)
    if gw.agents.get(peer.user) is not peer:
        raise ProtocolError(ErrorCode.REPLACED, "this session continues on another connection", id=cmd.id)
    agent_id = peer.user
    now = gw.clock()
    if isinstance(cmd, SetState):
        try:
            state = AgentState(cmd.state)
        except ValueError:
            raise ProtocolError(
                ErrorCode.BAD_FIELD, "'state.state' must be available, away or offline", id=cmd.id
            ) from None
        if state == AgentState.AWAY and not cmd.reason:
            raise ProtocolError(ErrorCode.MISSING_FIELD, "going away needs a 'reason' code", id=cmd.id)
        result = await gw.store.set_agent_state(agent_id, state, now, cmd.reason if state == AgentState.AWAY else "")
        await peer.ack(cmd.id, "state", state=str(result.agent.state), reason=result.agent.reason)
    elif isinstance(cmd, Accept | Reject):
        contact_id = await _own_offer(gw, agent_id, cmd.offer, cmd.id)
        if isinstance(cmd, Accept):
            await peer.ack(cmd.id, "accept", offer=cmd.offer, contact=await _accept(gw, agent_id, contact_id, cmd, now))
        else:
            await gw.store.reject(contact_id, agent_id, cmd.offer, now)
            await peer.ack(cmd.id, "reject", offer=cmd.offer)
    elif isinstance(cmd, AgentMessage):
        posted = await gw.say(cmd.contact, "agent", agent_id, cmd.text, now)
        await peer.ack(cmd.id, "message", contact=cmd.contact, seq=posted.message["seq"])
    elif isinstance(cmd, Complete):
        result = await _complete(gw, agent_id, cmd, now)
        await peer.ack(cmd.id, "complete", contact=cmd.contact, wrapup_until=_wrapup_until(result))
    elif isinstance(cmd, EndWrapup):
        await _own_contact(gw, agent_id, cmd.contact, cmd.id)
        await gw.store.end_wrapup(cmd.contact, agent_id, now)
        await peer.ack(cmd.id, "end_wrapup", contact=cmd.contact)
    elif isinstance(cmd, LinkIdentifier | MergeCustomers | UnmergeCustomers):
        await profiles.handle(gw, peer, cmd, agent=agent_id)
    elif isinstance(cmd, Transfer) and cmd.uri:
        await _transfer_out(gw, peer, agent_id, cmd, now)
    elif isinstance(cmd, Transfer):
        if bool(cmd.queue) == bool(cmd.agent):
            raise ProtocolError(ErrorCode.BAD_FIELD, "'transfer' needs one of 'queue', 'agent' or 'uri'", id=cmd.id)
        if cmd.agent and cmd.agent not in gw.config.agents:
            raise ProtocolError(ErrorCode.NOT_FOUND, f"no agent {cmd.agent!r}", id=cmd.id)
        if cmd.queue and cmd.queue not in gw.config.queues:
            raise ProtocolError(ErrorCode.NOT_FOUND, f"no queue {cmd.queue!r}", id=cmd.id)
        fields = await _own_contact(gw, agent_id, cmd.contact, cmd.id)
        to_queue = cmd.queue or fields["queue"]
        await gw.store.transfer(cmd.contact, agent_id, to_queue, now, to_agent=cmd.agent)
        await peer.ack(cmd.id, "transfer", contact=cmd.contact, queue=to_queue, agent=cmd.agent or None)


async def _transfer_out(gw: Gateway, peer: Peer, agent_id: str, cmd: Transfer, now: float) -> None:
    """A call leaves the center for a SIP URI on ``ivr.transfer_allow``: the contact completes (disposition
    ``transferred``, the URI in the event); the telephony worker holding the call hangs up the agent's phone
    and connects the caller to the URI."""
    if cmd.queue or cmd.agent:
        raise ProtocolError(ErrorCode.BAD_FIELD, "'transfer' needs one of 'queue', 'agent' or 'uri'", id=cmd.id)
    allowed = getattr(gw.config.ivr, "transfer_allowed", None)
    if allowed is None or not allowed(cmd.uri):
        raise ProtocolError(ErrorCode.NOT_ALLOWED, "that SIP URI is not on ivr.transfer_allow", id=cmd.id)
    fields = await _own_contact(gw, agent_id, cmd.contact, cmd.id)
    if fields.get("channel") != "voice":
        raise ProtocolError(ErrorCode.ILLEGAL_STATE, "only a call can be transferred to a SIP URI", id=cmd.id)
    result = await gw.store.complete(
        cmd.contact, agent_id, now, disposition="transferred", transfer_to=cmd.uri, known=_holding(agent_id, fields)[1:]
    )
    await peer.ack(cmd.id, "transfer", contact=cmd.contact, uri=cmd.uri, wrapup_until=_wrapup_until(result))


def _wrapup_until(completed: Result) -> float | None:
    """When the wrap-up of a completed contact ends; None (left out of the reply) when it has none: the contact
    is done and the capacity free at once, and no ``wrapup_ended`` follows."""
    contact = completed.contact
    return contact.wrapup_until if contact is not None and contact.state == ContactState.WRAPUP else None


async def _accept(gw: Gateway, agent_id: str, contact_id: str, cmd: Accept, now: float) -> dict[str, Any]:
    """Accept, and read the transcript in the same round trip; returns the contact's detail for the reply."""
    info = gw.offers.get(cmd.offer)
    queue = info.queue if info is not None else None
    if queue is None:
        queue = await gw.store.client.hget(gw.store.keys.contact(contact_id), "queue") or ""
    result, (lines,) = await gw.store.accept_and_read(
        contact_id, agent_id, cmd.offer, queue, now, [gw.state.transcript_read(contact_id)]
    )
    fields = result.fields or {}
    gw.held[contact_id] = _holding(agent_id, fields)
    return await contact_detail(gw, contact_id, fields, [orjson.loads(m) for m in lines])


async def _complete(gw: Gateway, agent_id: str, cmd: Complete, now: float) -> Any:
    """Complete a contact in one round trip, its queue and customer taken from what this process saw at the
    accept, or else read first (which also tells "no such contact" from "not yours")."""
    held = gw.held.get(cmd.contact)
    if held is None or held[0] != agent_id:
        held = _holding(agent_id, await _own_contact(gw, agent_id, cmd.contact, cmd.id))
    try:
        result = await gw.store.complete(
            cmd.contact, agent_id, now, disposition=cmd.disposition, note=cmd.note, known=held[1:]
        )
    except StaleDecision:
        await _own_contact(gw, agent_id, cmd.contact, cmd.id)  # raises the precise refusal, if any
        raise
    gw.held.pop(cmd.contact, None)
    return result


def _holding(agent_id: str, fields: dict[str, str]) -> tuple[str, str, str]:
    """What ``gw.held`` keeps of a contact an agent holds: (agent, queue, customer)."""
    return agent_id, fields.get("queue", ""), fields.get("customer", "")


async def _own_offer(gw: Gateway, agent_id: str, offer_id: str, request_id: Any) -> str:
    """The contact of one of the agent's open offers; refuses another agent's offer or a closed one."""
    info = gw.offers.get(offer_id)
    if info is None:
        # Made before this process started following the stream: look among what the agent holds.
        for cid in await gw.store.client.smembers(gw.store.keys.agent_contacts(agent_id)):
            state, held_offer = await gw.store.client.hmget(gw.store.keys.contact(cid), ["state", "offer_id"])
            if held_offer == offer_id and state == "offered":
                return cid
        raise ProtocolError(ErrorCode.NOT_FOUND, "no such offer", id=request_id)
    if info.agent != agent_id:
        raise ProtocolError(ErrorCode.FORBIDDEN, "that offer was made to another agent", id=request_id)
    if not info.open:
        raise ProtocolError(ErrorCode.OFFER_GONE, "the offer is gone (expired, revoked or answered)", id=request_id)
    return info.contact


async def _own_contact(gw: Gateway, agent_id: str, contact_id: str, request_id: Any) -> dict[str, str]:
    fields = await gw.store.contact(contact_id)
    if not fields:
        raise ProtocolError(ErrorCode.NOT_FOUND, "no such contact", id=request_id)
    if fields.get("agent") != agent_id:
        raise ProtocolError(ErrorCode.FORBIDDEN, "that contact is not yours", id=request_id)
    return fields


async def login(gw: Gateway, peer: Peer, cmd: AgentLogin) -> None:
    if peer.user:
        raise ProtocolError(ErrorCode.ALREADY_LOGGED_IN, f"already logged in as {peer.user}", id=cmd.id)
    agent = gw.config.agents.get(cmd.agent)
    if agent is None or not agent_token_ok(agent, cmd.token, secret_env=gw.settings.token_secret_env):
        raise ProtocolError(ErrorCode.UNAUTHORIZED, "unknown agent or wrong token", id=cmd.id)
    now = gw.clock()
    old = gw.agents.get(agent.id)
    peer.user = agent.id
    peer.since = repr(now)
    gw.agents[agent.id] = peer
    if old is not None:
        await old.error(ErrorCode.REPLACED, "you logged in on another connection")
        await old.ws.close(4000, "replaced")
    before = await gw.state.open_session(agent.id, gw.id, now)  # writes since=repr(now), as peer.since
    if before is not None and before.connected and before.gw != gw.id:
        await gw.state.control("replaced", agent=agent.id, gw=gw.id)
    fields = await gw.store.agent(agent.id)
    state, reason = fields.get("state", "offline"), fields.get("reason", "")
    resumed = before is not None
    if resumed and state == AgentState.AWAY and reason == DISCONNECTED:
        target = before.resume or "away"
        if target == AgentState.AVAILABLE:
            result = await gw.store.set_agent_state(agent.id, AgentState.AVAILABLE, now)
            state, reason = str(result.agent.state), result.agent.reason
    held = sorted(await gw.store.client.smembers(gw.store.keys.agent_contacts(agent.id)))
    contacts, offers = [], []
    for cid in held:
        c = await gw.store.contact(cid)
        if c.get("state") == "offered":
            offers.append(json.loads(await offer_message(gw, c)))
        elif c.get("state") in ("connected", "wrapup"):
            contacts.append(await contact_detail(gw, cid))
    await peer.ack(
        cmd.id,
        "login",
        agent=agent.id,
        name=agent.name,
        state=state,
        reason=reason,
        channels=list(agent.channels),
        queues=sorted(agent_queues(gw.config, agent)),
        resumed=resumed,
        contacts=contacts,
        offers=offers,
        grace=gw.settings.grace,
    )


async def contact_detail(
    gw: Gateway,
    contact_id: str,
    fields: dict[str, str] | None = None,
    transcript: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """What the agent desktop shows of a contact: channel, queue, wait, attributes, customer, transcript
    (read from Redis unless given, or unless the contact's ``messages`` says it has none)."""
    c = fields if fields is not None else await gw.store.contact(contact_id)
    if transcript is None and c.get("messages") == "0":
        transcript = []
    now = gw.clock()
    try:
        attrs = orjson.loads(c.get("attrs") or "{}")
    except ValueError:
        attrs = {}
    return {
        "id": contact_id,
        "channel": c.get("channel", ""),
        "queue": c.get("queue", ""),
        "state": c.get("state", ""),
        "waited": round(now - float(c.get("enqueued_at") or now), 1),
        "attrs": attrs,
        **(await customer_view(gw, c.get("customer", ""))),
        "transcript": transcript if transcript is not None else await gw.state.transcript(contact_id),
    }


async def customer_view(gw: Gateway, customer: str) -> dict[str, Any]:
    """The customer's profile, open case and recent timeline across channels (``customers.timeline_length``)."""
    if not customer:
        return {"customer": {"id": ""}, "history": []}
    try:
        held = await gw.profiles.for_offer(customer)
    except CustomerError:  # erased meanwhile
        return {"customer": {"id": customer}, "history": []}
    return {"customer": {**held["profile"], "case": held["case"]}, "history": held["timeline"]}


async def offer_message(
    gw: Gateway, contact: dict[str, str], transcript: list[dict[str, Any]] | None = None
) -> str:
    """The ``offer`` message for an offered contact (its hash or event snapshot)."""
    expires = float(contact.get("offer_expires") or 0)
    detail = await contact_detail(gw, contact["id"], contact, transcript)
    return message(
        "offer", offer=contact.get("offer_id", ""), contact=detail, expires_in=round(max(0.0, expires - gw.clock()), 1)
    )


async def disconnected(gw: Gateway, agent_id: str, holder_gw: str, since: str) -> None:
    """An agent's socket is gone (here, or with its dead process): revoke its offers, hold its contacts."""
    now = gw.clock()
    fields = await gw.store.agent(agent_id)
    state, reason = fields.get("state", "offline"), fields.get("reason", "")
    if state == AgentState.AWAY and reason == DISCONNECTED:
        state = ""
    if not await gw.state.close_session(agent_id, holder_gw, since, now, state, reason):
        return  # the session lives on elsewhere
    gw.session_watch.grace_ends = min(gw.session_watch.grace_ends, now + gw.settings.grace)
    if state == AgentState.AVAILABLE:
        with contextlib.suppress(StaleDecision):
            await gw.store.set_agent_state(agent_id, AgentState.AWAY, now, DISCONNECTED)
    for cid in sorted(await gw.store.client.smembers(gw.store.keys.agent_contacts(agent_id))):
        c = await gw.store.contact(cid)
        if c.get("state") == "offered" and c.get("agent") == agent_id:
            with contextlib.suppress(StaleDecision):  # answered or expired meanwhile
                await gw.store.revoke(cid, agent_id, c.get("offer_id", ""), now)


@dataclass(slots=True)
class SessionWatch:
    """When :func:`look_after_sessions` next reads every session, and the processes it saw holding some."""

    next_scan: float = 0.0
    grace_ends: float = math.inf  # the earliest end of a grace period known
    others: list[str] = field(default_factory=list)


async def look_after_sessions(gw: Gateway, now: float) -> None:
    """Close the sessions of dead processes; end those disconnected past the grace period.

    Reading every session costs O(agents) (at 10,000 agents, each second, most of the gateway's CPU), so
    a tick reads them only every ``gateway.heartbeat`` seconds, when a known grace period ends, or when a
    process seen holding sessions stopped beating; otherwise it only checks those processes' heartbeats.
    """
    w = gw.session_watch
    if now < w.next_scan and now < w.grace_ends:
        alive = await gw.state.alive(w.others)
        if all(alive.values()):
            return
    # the sessions connected here whose agents are connected here are fine: not read in full
    sessions = await gw.state.all_sessions(here=gw.id, held=gw.agents)
    others = sorted({s.gw for s in sessions if s.connected and s.gw and s.gw != gw.id})
    alive = await gw.state.alive(others)
    w.next_scan, w.others = now + gw.settings.heartbeat, [o for o in others if alive[o]]
    w.grace_ends = min(
        (float(s.disconnected_at) + gw.settings.grace for s in sessions if not s.connected and s.disconnected_at),
        default=math.inf,
    )
    for s in sessions:
        if s.connected:
            dead = (s.gw != gw.id and not alive.get(s.gw, False)) or (s.gw == gw.id and s.agent not in gw.agents)
            if dead:
                await disconnected(gw, s.agent, s.gw, s.since)
        elif (
            s.disconnected_at
            and now - float(s.disconnected_at) >= gw.settings.grace
            and await gw.state.expire_session(s.agent, s.disconnected_at)
        ):
            with contextlib.suppress(StaleDecision):
                await gw.store.set_agent_state(s.agent, AgentState.OFFLINE, now, "grace_expired")


async def replaced(gw: Gateway, agent_id: str, new_gw: str) -> None:
    """The agent logged in on another process: close its connection here."""
    peer = gw.agents.get(agent_id)
    if peer is not None and new_gw != gw.id:
        del gw.agents[agent_id]
        await peer.error(ErrorCode.REPLACED, "you logged in on another connection")
        await peer.ws.close(4000, "replaced")
