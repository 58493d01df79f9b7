"""Pipelined round trips to Redis on connections held for them, without redis-py's pool around each one.

redis-py (8.x) takes a connection from its pool for every command and pipeline and gives it back after: a
condition, a timeout, the pool's lock, observability records and an event dispatch each time, and a retry
wrapper around it all. A pipeline of one EVALSHA costs its caller about 100 us of CPU that way, and about 45 us
packed, written and read on a connection held for it (Redis's part and the system calls included;
docs/performance.md). The router and the gateway make three or four such round trips for every contact.

A :class:`Direct` keeps the connections it took from the client's pool (so the client's ``aclose()`` still
closes them) and lends one to each round trip. The commands are packed (by hiredis) and written at once; the
replies are read in order, each put through redis-py's response callback for its command, so they look as they
do through the client; a command's error is its reply, as with ``pipeline.execute(raise_on_error=False)``. A held
connection that the server closed, or that has unread data, is connected again before it is lent, as the pool
would. A round trip that fails or is cancelled halfway gives its connection back disconnected (what it left
unread would be the next caller's replies). Nothing is retried: the caller hears the error, and a script is
never run twice for one call.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

from hiredis import pack_command
from redis.exceptions import RedisError, ResponseError

Command = Sequence[Any]


def pack(commands: Sequence[Command]) -> bytes:
    """``commands`` in the Redis protocol, packed by hiredis (C): the bytes redis-py's packer makes, about 1 us a
    command instead of 7."""
    return b"".join([pack_command(tuple(command)) for command in commands])


class Direct:
    """Round trips on held connections of ``client`` (a cluster client has no pool: its pipelines, as before)."""

    def __init__(self, client: Any, *, keep: int = 8) -> None:
        self.client = client
        self.pool = getattr(client, "connection_pool", None)
        self.callbacks: dict[str, Any] = getattr(client, "response_callbacks", {}) if self.pool is not None else {}
        self.keep = keep  # idle connections held at most; more go back to the pool
        self._idle: list[Any] = []
        self.round_trips = 0

    async def execute(self, commands: Sequence[Command]) -> list[Any]:
        """Send ``commands`` in one round trip; their replies, a command's error (a ``ResponseError``) as its
        reply. Raises what the round trip raised (e.g. a lost connection or a timeout)."""
        if self.pool is None:
            pipe = self.client.pipeline(transaction=False)
            for command in commands:
                pipe.execute_command(*command)
            return await pipe.execute(raise_on_error=False)
        conn = await self._take()
        try:
            await conn.send_packed_command(pack(commands), check_health=False)
            replies = []
            for command in commands:
                try:
                    reply = await conn.read_response()
                except ResponseError as exc:
                    replies.append(exc)
                    continue
                callback = self.callbacks.get(command[0])
                if callback is not None:
                    reply = callback(reply)
                    if inspect.isawaitable(reply):
                        reply = await reply
                replies.append(reply)
        except BaseException:
            await conn.disconnect(nowait=True)
            await self.pool.release(conn)
            raise
        self.round_trips += 1
        if len(self._idle) < self.keep:
            self._idle.append(conn)
        else:
            await self.pool.release(conn)
        return replies

    async def _take(self) -> Any:
        """A held connection, open and with nothing unread (connected again if not), else one from the pool."""
        if not self._idle:
            return await self.pool.get_connection()
        conn = self._idle.pop()
        try:
            clean = conn.is_connected and not await conn.can_read()
        except (RedisError, OSError):
            clean = False
        if not clean:  # the server closed it (a restart, a timeout) or something is left unread
            await conn.disconnect(nowait=True)
            try:
                await conn.connect()
            except BaseException:
                await self.pool.release(conn)
                raise
        return conn
