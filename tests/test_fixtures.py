"""The test machinery itself: real Redis, per-test tenants whose keys are removed, a real Redis Cluster."""

from __future__ import annotations

import redis
import redis.asyncio
from redis.cluster import ClusterNode, RedisCluster

from tests.support import delete_tenant_keys, new_tenant

_seen: dict[str, str] = {}  # tenant of the first test below, checked by the second


def test_single_redis_answers_and_keeps_tenant_keys(redis_sync, tenant):
    assert redis_sync.ping()
    key = f"or:{{{tenant}}}:greeting"
    redis_sync.set(key, b"hello")
    redis_sync.hset(f"or:{{{tenant}}}:agent:a1", mapping={"state": "available"})
    assert redis_sync.get(key) == b"hello"
    _seen["tenant"] = tenant


def test_the_tenant_fixture_left_no_key_behind(redis_sync):
    tenant = _seen.get("tenant")
    if tenant is None:  # the test above did not run (e.g. -k): nothing to check
        return
    assert list(redis_sync.scan_iter(match=f"or:{{{tenant}}}:*")) == []


def test_cleanup_deletes_only_the_tenants_keys(redis_url, redis_sync):
    mine, other = new_tenant(), new_tenant()
    for i in range(1200):  # more than one SCAN page and one UNLINK batch
        redis_sync.set(f"or:{{{mine}}}:k{i}", i)
    redis_sync.set(f"or:{{{other}}}:k", 1)
    redis_sync.set(f"x:{{{mine}}}:k", 1)  # not under or:
    try:
        assert delete_tenant_keys([redis_url], mine) == 1200
        assert list(redis_sync.scan_iter(match=f"or:{{{mine}}}:*")) == []
        assert redis_sync.get(f"or:{{{other}}}:k") == b"1"
        assert redis_sync.get(f"x:{{{mine}}}:k") == b"1"
    finally:
        redis_sync.delete(f"or:{{{other}}}:k", f"x:{{{mine}}}:k")


async def test_async_client_round_trip(redis_client, tenant):
    assert isinstance(redis_client, redis.asyncio.Redis)
    key = f"or:{{{tenant}}}:n"
    assert await redis_client.incrby(key, 5) == 5
    assert await redis_client.get(key) == b"5"  # bytes: decode_responses=False


def _cluster(nodes) -> RedisCluster:
    return RedisCluster(startup_nodes=[ClusterNode(h, p) for h, p in nodes], decode_responses=True)


def test_cluster_has_three_masters_and_runs_a_script_over_one_tenant(redis_cluster_nodes, tenant):
    assert len(redis_cluster_nodes) == 3
    rc = _cluster(redis_cluster_nodes)
    try:
        assert len(rc.get_primaries()) == 3
        a, b = f"or:{{{tenant}}}:a", f"or:{{{tenant}}}:b"
        assert rc.keyslot(a) == rc.keyslot(b)
        rc.set(a, "x")
        assert rc.get(a) == "x"
        script = """
            redis.call('SET', KEYS[1], ARGV[1])
            local n = redis.call('INCRBY', KEYS[2], ARGV[2])
            return {redis.call('GET', KEYS[1]), n}
        """
        assert rc.eval(script, 2, a, b, "y", 7) == ["y", 7]
        assert rc.get(b) == "7"
        # tenants spread over the slots: many tenants land on more than one master
        owners = {rc.get_node_from_key(f"or:{{{new_tenant()}}}:x").name for _ in range(60)}
        assert len(owners) > 1
    finally:
        rc.close()


def test_cluster_cleanup_deletes_the_tenants_keys(redis_cluster_nodes):
    tenant = new_tenant()
    rc = _cluster(redis_cluster_nodes)
    try:
        for i in range(50):
            rc.set(f"or:{{{tenant}}}:k{i}", i)
        urls = [f"redis://{h}:{p}/0" for h, p in redis_cluster_nodes]
        assert delete_tenant_keys(urls, tenant) == 50
        assert all(rc.get(f"or:{{{tenant}}}:k{i}") is None for i in range(50))
    finally:
        rc.close()


def test_redis_sync_is_a_plain_client(redis_sync):
    assert isinstance(redis_sync, redis.Redis)
