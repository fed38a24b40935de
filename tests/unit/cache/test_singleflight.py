"""Tests: in-process single-flight — one call for identical concurrent misses."""

from __future__ import annotations

import asyncio

import pytest

from gateway.cache.singleflight import SingleFlight


async def test_eight_callers_one_call() -> None:
    flight = SingleFlight()
    calls = 0
    gate = asyncio.Event()

    async def fn() -> str:
        nonlocal calls
        calls += 1
        await gate.wait()
        return "answer"

    tasks = [asyncio.create_task(flight.run("k", fn)) for _ in range(8)]
    await asyncio.sleep(0.01)
    gate.set()
    results = await asyncio.gather(*tasks)
    assert calls == 1
    assert [r for r, _ in results] == ["answer"] * 8
    assert sorted(leader for _, leader in results) == [False] * 7 + [True]
    assert len(flight) == 0


async def test_different_keys_run_separately_and_again_after() -> None:
    flight = SingleFlight()
    calls: list[str] = []

    async def make(key: str) -> str:
        calls.append(key)
        await asyncio.sleep(0.01)
        return key

    a, b = await asyncio.gather(
        flight.run("a", lambda: make("a")), flight.run("b", lambda: make("b"))
    )
    assert (a, b) == (("a", True), ("b", True))
    assert await flight.run("a", lambda: make("a")) == ("a", True)
    assert calls == ["a", "b", "a"]


async def test_exception_reaches_every_caller() -> None:
    flight = SingleFlight()
    calls = 0

    async def boom() -> str:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        raise ValueError("upstream failed")

    results = await asyncio.gather(
        *(flight.run("k", boom) for _ in range(4)), return_exceptions=True
    )
    assert calls == 1
    assert all(isinstance(r, ValueError) for r in results)
    assert len(flight) == 0


async def test_follower_cancel_leaves_the_leader() -> None:
    flight = SingleFlight()
    gate = asyncio.Event()

    async def fn() -> int:
        await gate.wait()
        return 7

    leader = asyncio.create_task(flight.run("k", fn))
    follower = asyncio.create_task(flight.run("k", fn))
    await asyncio.sleep(0.01)
    follower.cancel()
    with pytest.raises(asyncio.CancelledError):
        await follower
    gate.set()
    assert await leader == (7, True)


async def test_leader_cancel_leaves_the_followers() -> None:
    flight = SingleFlight()
    gate = asyncio.Event()

    async def fn() -> int:
        await gate.wait()
        return 7

    leader = asyncio.create_task(flight.run("k", fn))
    await asyncio.sleep(0)
    followers = [asyncio.create_task(flight.run("k", fn)) for _ in range(3)]
    await asyncio.sleep(0.01)
    leader.cancel()
    await asyncio.sleep(0.01)
    gate.set()
    assert await asyncio.gather(*followers) == [(7, False)] * 3
    assert leader.cancelled()


async def test_everyone_gone_cancels_the_call() -> None:
    flight = SingleFlight()
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def fn() -> int:
        started.set()
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return 1

    tasks = [asyncio.create_task(flight.run("k", fn)) for _ in range(2)]
    await started.wait()
    for task in tasks:
        task.cancel()
    await asyncio.wait_for(cancelled.wait(), 1)
    await asyncio.sleep(0)
    assert len(flight) == 0
