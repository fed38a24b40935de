"""Stored responses in memory: tenant-scoped, expiring, bounded, deletable."""

from __future__ import annotations

import pytest

from gateway.cache.responses import ResponseStore, StoredResponse


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _stored(response_id: str, text: str = "hi") -> StoredResponse:
    item = {"type": "message", "role": "user", "content": text, "id": "msg_1"}
    return StoredResponse({"id": response_id, "status": "completed"}, [item], [item])


# (reader tenant, id asked, found)
CASES = [("a", "resp_1", True), ("b", "resp_1", False), ("a", "resp_2", False)]


@pytest.mark.parametrize(("tenant", "response_id", "found"), CASES)
async def test_only_the_owner_finds_it(tenant: str, response_id: str, found: bool) -> None:
    store = ResponseStore.in_memory(60)
    await store.put("a", _stored("resp_1"))
    got = await store.get(tenant, response_id)
    assert (got == _stored("resp_1")) if found else got is None
    assert await store.delete(tenant, response_id) is found
    left = await store.get("a", "resp_1")
    assert (left is None) is found  # only the owner's delete removed it


async def test_entries_expire_after_the_ttl() -> None:
    clock = Clock()
    store = ResponseStore.in_memory(60, clock=clock)
    await store.put("a", _stored("resp_1"))
    clock.now += 59
    assert await store.get("a", "resp_1") is not None
    clock.now += 2
    assert await store.get("a", "resp_1") is None


async def test_memory_is_bounded_oldest_first() -> None:
    store = ResponseStore.in_memory(60, max_bytes=4096)
    for i in range(50):
        await store.put("a", _stored(f"resp_{i}", f"text {i} " * 20))
    assert await store.get("a", "resp_0") is None
    assert await store.get("a", "resp_49") is not None
