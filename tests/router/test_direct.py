"""Round trips on held connections (router/direct.py) against a real Redis: the client's replies, errors in
place, a cancelled round trip's connection never lent again with its reply unread, a closed one reconnected."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio.connection import Connection
from redis.exceptions import NoScriptError, ResponseError

from router.direct import Direct, pack
from router.store import connect


@pytest.fixture
async def client(redis_url, tenant):
    c = await connect(redis_url, tenant=tenant)
    yield c
    await c.aclose()


async def test_replies_are_those_of_a_client_pipeline_and_an_error_is_its_commands_reply(client, tenant) -> None:
    k = f"or:{{{tenant}}}:"
    commands = [
        ("SET", k + "s", "1"),
        ("GET", k + "s"),
        ("HSET", k + "h", "a", "1", "b", "2"),
        ("HGETALL", k + "h"),
        ("XADD", k + "x", "1-1", "type", "t", "at", "1"),
        ("XREAD", "COUNT", 10, "STREAMS", k + "x", "0-0"),
        ("EVALSHA", "0" * 40, 0),  # no such script
        ("INCR", k + "h"),  # wrong type
        ("SMEMBERS", k + "none"),
    ]
    direct = Direct(client)
    got = await direct.execute(commands)
    await client.delete(k + "s", k + "h", k + "x")
    pipe = client.pipeline(transaction=False)
    for command in commands:
        pipe.execute_command(*command)
    expected = await pipe.execute(raise_on_error=False)
    entries = [[k + "x", [("1-1", {"type": "t", "at": "1"})]]]
    assert got[:6] == expected[:6] == [True, "1", 2, {"a": "1", "b": "2"}, "1-1", entries]
    assert isinstance(got[6], NoScriptError) and isinstance(got[7], ResponseError) and got[8] == expected[8] == set()
    assert direct.round_trips == 1


async def test_a_round_trip_cancelled_halfway_leaves_nothing_for_the_next_caller(client, tenant) -> None:
    k = f"or:{{{tenant}}}:"
    direct = Direct(client, keep=1)
    await client.set(k + "v", "mine")
    waiting = asyncio.ensure_future(direct.execute([("BLPOP", k + "q", 5)]))
    await asyncio.sleep(0.1)  # written, its reply not come
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await client.lpush(k + "q", "late")
    assert await direct.execute([("GET", k + "v")]) == ["mine"]  # not the BLPOP's reply
    assert await client.llen(k + "q") == 1  # and the cancelled BLPOP took nothing


async def test_a_held_connection_the_server_closed_is_connected_again(client, tenant) -> None:
    direct = Direct(client)
    [held] = await direct.execute([("CLIENT", "ID")])
    assert await client.execute_command("CLIENT", "KILL", "ID", held) == 1
    await asyncio.sleep(0.05)
    [again] = await direct.execute([("CLIENT", "ID")])  # no error: a new connection
    assert again != held


async def test_concurrent_round_trips_each_get_their_own_replies(client, tenant) -> None:
    k = f"or:{{{tenant}}}:"
    direct = Direct(client, keep=4)
    replies = await asyncio.gather(
        *(direct.execute([("SET", f"{k}{i}", str(i)), ("GET", f"{k}{i}"), ("CLIENT", "ID")]) for i in range(50))
    )
    assert [r[:2] for r in replies] == [[True, str(i)] for i in range(50)]
    assert len({r[2] for r in replies}) > 1  # in flight at once, on connections of their own
    assert len(direct._idle) == 4


def test_commands_are_packed_as_redis_py_packs_them() -> None:
    commands = [
        ("EVALSHA", "f" * 40, 2, "or:{t}:contact:c1", "or:{t}:events", "c1", "1732391234.123456", 1000, "Zoë → ☎"),
        ("XREAD", "COUNT", 1000, "BLOCK", 1000, "STREAMS", "or:{t}:events", "1732391234123-0"),
        ("SET", b"\xff\x00", 1.5),
        ["HSET", "h", "n", -7, "x", 1e20],
    ]
    assert pack(commands) == b"".join(Connection().pack_commands(commands))
