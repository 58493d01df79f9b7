"""Fixtures for tests against real Redis (never a fake).

- ``redis_url`` (session): $REDIS_URL when set, else a private redis-server on a free loopback port.
- ``tenant``: a fresh tenant name; afterwards its keys ``or:{tenant}:*`` are deleted (SCAN, never FLUSH)
  from ``redis_url`` (when the test used it or $REDIS_URL is set) and from ``redis_cluster_nodes`` (when
  the test used it).
- ``redis_client`` (``redis.asyncio.Redis``, for ``async def`` tests) and ``redis_sync`` (``redis.Redis``),
  both bytes in and out, both on ``redis_url`` and closed after the test.
- ``redis_cluster_nodes`` (session): a private 3-master Redis Cluster, as a list of (host, port).

Async tests: pytest-asyncio runs ``async def`` tests and fixtures (asyncio_mode = "auto" in
pyproject.toml). Plain tests calling ``asyncio.run`` work too.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator, Iterator

import pytest
import redis
import redis.asyncio

from router import compiled
from tests.support import (
    REDIS_CLI_MISSING,
    REDIS_SERVER_MISSING,
    RedisServer,
    cluster_create,
    delete_tenant_keys,
    new_tenant,
)


def _shown(url: str) -> str:
    return re.sub(r"//([^@/]*:)?[^@/]*@", "//***@", url)


def pytest_report_header(config: pytest.Config) -> list[str]:
    if os.environ.get("REDIS_URL"):
        redis_line = f"redis: REDIS_URL={_shown(os.environ['REDIS_URL'])} (only or:{{tenant}}:* keys are touched)"
    else:
        server = shutil.which("redis-server") or "redis-server NOT FOUND"
        redis_line = f"redis: private redis-server processes ({server})"
    states = compiled.status()
    build = "compiled (mypyc)" if all(s == "compiled" for s in states.values()) else str(states)
    return [redis_line, f"routing core: {build}"]


def pytest_sessionstart(session: pytest.Session) -> None:
    """A compiled module built from older sources would test code that is not in the tree: stop at once."""
    stale = [m for m, s in compiled.status().items() if s == "stale"]
    if stale:
        pytest.exit(compiled.stale_message(stale), returncode=3)


def _require(binary: str, message: str) -> None:
    if shutil.which(binary) is None:
        pytest.fail(message, pytrace=False)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("REDIS_URL")
    if url:
        client = redis.Redis.from_url(url, socket_connect_timeout=5)
        try:
            client.ping()
        except redis.RedisError as e:
            pytest.fail(f"REDIS_URL={_shown(url)} does not answer PING: {e}", pytrace=False)
        finally:
            client.close()
        yield url
        return
    _require("redis-server", REDIS_SERVER_MISSING)
    server = RedisServer.start(tmp_path_factory.mktemp("redis"), "--save", "", "--appendonly", "no")
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_cluster_nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[tuple[str, int]]]:
    _require("redis-server", REDIS_SERVER_MISSING)
    _require("redis-cli", REDIS_CLI_MISSING)
    servers: list[RedisServer] = []
    try:
        for i in range(3):
            servers.append(
                RedisServer.start(
                    tmp_path_factory.mktemp(f"cluster{i}"), "--save", "", "--appendonly", "no", cluster=True
                )
            )
        cluster_create(servers)
        yield [(s.host, s.port) for s in servers]
    finally:
        for s in servers:
            s.stop()


@pytest.fixture
def tenant(request: pytest.FixtureRequest) -> Iterator[str]:
    name = new_tenant()
    urls: list[str] = []
    if os.environ.get("REDIS_URL") or "redis_url" in request.fixturenames:
        urls.append(request.getfixturevalue("redis_url"))
    if "redis_cluster_nodes" in request.fixturenames:
        urls += [f"redis://{h}:{p}/0" for h, p in request.getfixturevalue("redis_cluster_nodes")]
    yield name
    delete_tenant_keys(urls, name)


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[redis.asyncio.Redis]:
    client = redis.asyncio.Redis.from_url(redis_url, decode_responses=False)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def redis_sync(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, decode_responses=False)
    try:
        yield client
    finally:
        client.close()
