"""Customer profiles from the agent desktop and the wallboard: link an identifier, merge, undo a merge.

Supervisors may act on any profile. An agent may act only on the customers of contacts it holds (on
offer, connected or in wrap-up): for a merge, at least one side; to undo a merge, one of its two sides.
Every change is recorded in the customer's timeline with who made it (``agent:<id>`` or
``supervisor:<name>``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from customers.identity import InvalidIdentifier
from customers.store import CustomerError
from router.gateway.peer import Peer
from router.gateway.protocol import ErrorCode, LinkIdentifier, MergeCustomers, ProtocolError, UnmergeCustomers

if TYPE_CHECKING:
    from router.gateway.server import Gateway

_CODES = {"not_found": ErrorCode.NOT_FOUND}
_TEXT = {
    "taken": "another customer has that identifier: merge the two profiles instead",
    "same": "that is the same profile",
    "merged": "one of the profiles was merged into another already",
    "undone": "that merge was undone already",
    "into_merged": "the profile was merged again since: undo the later merge first",
    "changed": "the profiles changed since the merge in a way it cannot undo",
    "not_found": "no such customer or merge",
}


async def handle(gw: Gateway, peer: Peer, cmd: Any, *, agent: str = "") -> None:
    """``agent``: the agent acting (its contacts' customers only); empty for a supervisor."""
    by = f"agent:{agent}" if agent else f"supervisor:{peer.user}"
    try:
        if isinstance(cmd, LinkIdentifier):
            await _allowed(gw, agent, [cmd.customer], cmd.id)
            linked = await gw.profiles.link(cmd.customer, cmd.kind, cmd.value, by=by, now=gw.clock())
            await peer.ack(cmd.id, "link", customer=cmd.customer, kind=cmd.kind, linked=linked)
        elif isinstance(cmd, MergeCustomers):
            await _allowed(gw, agent, [cmd.into, cmd.other], cmd.id)
            merge_id = await gw.profiles.merge(cmd.into, cmd.other, by=by, now=gw.clock())
            await peer.ack(cmd.id, "merge", merge=merge_id, into=cmd.into, other=cmd.other)
        elif isinstance(cmd, UnmergeCustomers):
            record = await gw.store.client.hgetall(gw.profiles.keys.merge(cmd.merge))
            if not record:
                raise ProtocolError(ErrorCode.NOT_FOUND, "no such merge", id=cmd.id)
            await _allowed(gw, agent, [record["into"], record["other"]], cmd.id)
            await gw.profiles.undo_merge(cmd.merge, by=by, now=gw.clock())
            await peer.ack(cmd.id, "unmerge", merge=cmd.merge, into=record["into"], other=record["other"])
    except InvalidIdentifier as exc:
        raise ProtocolError(ErrorCode.BAD_FIELD, f"not a valid {exc.kind}: {exc.reason}", id=cmd.id) from None
    except CustomerError as exc:
        code = _CODES.get(exc.code, ErrorCode.ILLEGAL_STATE)
        raise ProtocolError(code, _TEXT.get(exc.code, exc.code.replace("_", " ")), id=cmd.id) from None


async def _allowed(gw: Gateway, agent: str, customers: list[str], request_id: Any) -> None:
    """An agent must hold a contact of one of ``customers`` (resolved through merges)."""
    if not agent:
        return
    client, keys = gw.store.client, gw.store.keys
    held = set()
    for contact_id in await client.smembers(keys.agent_contacts(agent)):
        customer = await client.hget(keys.contact(contact_id), "customer")
        if customer:
            try:
                held.add(await gw.profiles.resolve(customer))
            except CustomerError:
                continue
    for customer in customers:
        try:
            if await gw.profiles.resolve(customer) in held:
                return
        except CustomerError:
            continue
    raise ProtocolError(ErrorCode.FORBIDDEN, "you hold no contact of that customer", id=request_id)
