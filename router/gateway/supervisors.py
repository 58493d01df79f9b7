"""The supervisor endpoint (``/v1/supervisor``): live statistics, and forcing an agent's state.

After login a supervisor gets a ``stats`` message every ``gateway.stats_every`` seconds: per queue
(waiting, oldest wait, on offer, connected, agents available, today's answered, abandoned, service
level and ASA against the target) and per agent (state, reason, load), and the agents by state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from router.gateway import profiles
from router.gateway.auth import credential_ok
from router.gateway.peer import Peer
from router.gateway.protocol import (
    ErrorCode,
    ForceState,
    LinkIdentifier,
    MergeCustomers,
    Ping,
    ProtocolError,
    SupervisorLogin,
    UnmergeCustomers,
)
from router.lifecycle import AgentState

if TYPE_CHECKING:
    from router.gateway.server import Gateway


async def handle(gw: Gateway, peer: Peer, cmd: Any) -> None:
    if isinstance(cmd, Ping):
        await peer.ack(cmd.id, "ping")
        return
    if isinstance(cmd, SupervisorLogin):
        if peer.user:
            raise ProtocolError(ErrorCode.ALREADY_LOGGED_IN, f"already logged in as {peer.user}", id=cmd.id)
        if not credential_ok(gw.settings.supervisors.get(cmd.supervisor), cmd.token):
            raise ProtocolError(ErrorCode.UNAUTHORIZED, "unknown supervisor or wrong token", id=cmd.id)
        peer.user = cmd.supervisor
        gw.supervisors.add(peer)
        await peer.ack(
            cmd.id, "login", supervisor=cmd.supervisor, queues=list(gw.config.queues), agents=list(gw.config.agents)
        )
        if gw.latest_stats is not None:
            await peer.push("stats", **gw.latest_stats)
        return
    if not peer.user:
        raise ProtocolError(ErrorCode.NOT_LOGGED_IN, "log in first", id=cmd.id)
    if isinstance(cmd, LinkIdentifier | MergeCustomers | UnmergeCustomers):
        await profiles.handle(gw, peer, cmd)
    elif isinstance(cmd, ForceState):
        if cmd.agent not in gw.config.agents:
            raise ProtocolError(ErrorCode.NOT_FOUND, f"no agent {cmd.agent!r}", id=cmd.id)
        try:
            state = AgentState(cmd.state)
        except ValueError:
            raise ProtocolError(
                ErrorCode.BAD_FIELD, "'force_state.state' must be available, away or offline", id=cmd.id
            ) from None
        reason = cmd.reason or (f"supervisor:{peer.user}" if state == AgentState.AWAY else "")
        result = await gw.store.set_agent_state(cmd.agent, state, gw.clock(), reason)
        await peer.ack(
            cmd.id, "force_state", agent=cmd.agent, state=str(result.agent.state), reason=result.agent.reason
        )
