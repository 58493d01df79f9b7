"""Fixtures: a CustomerStore on real Redis with a clock the test moves."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from customers.config import CustomersConfig
from customers.store import CustomerStore
from router.store import connect

T0 = 1_790_000_000.0  # a fixed start time (2026-09-21)


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator:
    c = await connect(redis_url)
    try:
        yield c
    finally:
        await c.aclose()


@pytest.fixture
def customers(client, tenant: str, clock: Clock) -> CustomerStore:
    return CustomerStore(client, tenant, clock, CustomersConfig(default_region="US", continuity_window=3600))
