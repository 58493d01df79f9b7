"""Redis commands of one event-loop turn, sent together in one pipelined round trip.

The gateway runs one or two Redis commands for each agent message (an accept, a complete), each from its
own connection's task. redis-py spends most of a single command's cost in Python around the command, not
in Redis: taking a connection from the pool, the retry and timeout wrappers, sending, reading. A
:class:`Batcher` collects the commands the tasks issue during one turn of the loop (the messages read from
all sockets in one poll are handled in the same turn) and sends them after it as one pipeline, so that
overhead is paid once per turn instead of once per command. A caller waits one loop turn more at most.

Commands are independent (a pipeline, not a transaction): each script stays atomic alone, replies come
back in order, and a command's error is its caller's alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from router.direct import Direct

Command = Sequence[Any]


class Batcher:
    """Sends the commands given to :meth:`execute` during one loop turn in one pipeline."""

    def __init__(self, direct: Direct, *, most: int = 1000) -> None:
        self.direct = direct  # the round trips (router/direct.py)
        self.most = most  # commands per pipeline at most; more are sent in several
        self._pending: list[tuple[Sequence[Command], asyncio.Future[list[Any]]]] = []
        self._sending: set[asyncio.Future[None]] = set()
        self.pipelines = 0  # round trips made
        self.commands = 0  # commands sent

    async def execute(self, *commands: Command) -> list[Any]:
        """Run ``commands`` (kept together and in order, e.g. a script and a read after it) in the pipeline
        of this loop turn; returns their replies, a command's error as its reply (an exception object).
        Raises what the whole round trip raised (e.g. a lost connection)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Any]] = loop.create_future()
        if not self._pending:
            loop.call_soon(self._flush)
        self._pending.append((commands, future))
        return await future

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        batch: list[tuple[Sequence[Command], asyncio.Future[list[Any]]]] = []
        size = 0
        for group, future in pending:
            if future.done():  # its caller was cancelled meanwhile
                continue
            if batch and size + len(group) > self.most:
                self._start(batch)
                batch, size = [], 0
            batch.append((group, future))
            size += len(group)
        if batch:
            self._start(batch)

    def _start(self, batch: list[tuple[Sequence[Command], asyncio.Future[list[Any]]]]) -> None:
        task = asyncio.ensure_future(self._send(batch))
        self._sending.add(task)  # held until done (the loop keeps only weak references to tasks)
        task.add_done_callback(self._sending.discard)

    async def _send(self, batch: list[tuple[Sequence[Command], asyncio.Future[list[Any]]]]) -> None:
        try:
            replies = await self.direct.execute([command for group, _ in batch for command in group])
        except BaseException as exc:  # the round trip failed: every caller hears it
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc if isinstance(exc, Exception) else ConnectionError(repr(exc)))
            if not isinstance(exc, Exception):
                raise
            return
        self.pipelines += 1
        self.commands += len(replies)
        at = 0
        for group, future in batch:
            if not future.done():
                future.set_result(replies[at : at + len(group)])
            at += len(group)
