"""One websocket connection, whatever its endpoint: sending, replies, errors, the rate limit."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from router.gateway.keepalive import KeptAlive
from router.gateway.protocol import ErrorCode, error, message
from router.gateway.ratelimit import MovingWindows

log = logging.getLogger(__name__)


class Peer:
    """A connection and who it is once logged in (``user``: agent, supervisor or connector id)."""

    def __init__(self, ws: ServerConnection, endpoint: str, limiter: MovingWindows) -> None:
        self.ws = ws
        self.endpoint = endpoint
        self.key = uuid.uuid4().hex  # rate-limit bucket
        self.user = ""
        self.since = ""  # agents: the session start this connection holds (see GatewayState.open_session)
        self.contact = ""  # web-chat customers: their conversation
        self._limiter = limiter

    def allowed(self) -> bool:
        """Take one message from the connection's budget; False when it is spent."""
        return self._limiter.hit(self.key)

    async def send(self, text: str) -> bool:
        ws = self.ws
        if isinstance(ws, KeptAlive) and ws.send_at_once(text):
            return True
        try:
            await ws.send(text)
        except ConnectionClosed:
            return False
        return True

    async def push(self, type_: str, /, **body: Any) -> bool:
        return await self.send(message(type_, **body))

    async def ack(self, request_id: Any, of: str, /, **body: Any) -> bool:
        return await self.send(message("ack", id=request_id, of=of, **body))

    async def error(self, code: ErrorCode, text: str, request_id: Any = None) -> bool:
        return await self.send(error(code, text, id=request_id))
