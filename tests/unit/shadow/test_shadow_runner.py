"""ShadowRunner: sampling, vetoes, in-flight and budget drops, errors, threads, shutdown."""

from __future__ import annotations

import asyncio
import random
import threading
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from gateway.errors import UpstreamThrottledError
from gateway.service.context import CallContext
from gateway.shadow.metrics import ShadowMetrics
from gateway.shadow.runner import ShadowRunner, utc_day
from gateway.shadow.stats_store import MemoryShadowStore, PairKey
from tests.unit.shadow.shadow_testkit import FakeBedrock, plan, policy

BODY = {"model": "r", "messages": [{"role": "user", "content": "hi"}]}
ANSWER = {"choices": [{"message": {"role": "assistant", "content": "hello"}}]}


def make(bedrock: Any = None, **kwargs: Any) -> tuple[ShadowRunner, MemoryShadowStore, Any]:
    pol = policy()
    state = SimpleNamespace(policy=pol, bedrock=bedrock or FakeBedrock())
    store = MemoryShadowStore()
    runner = ShadowRunner(
        state,  # type: ignore[arg-type]
        metrics=ShadowMetrics(CollectorRegistry()),
        store=store,
        rng=random.Random(1),
        **kwargs,
    )
    return runner, store, state


def ctx(tenant: str = "default") -> CallContext:
    return CallContext(request_id="req", tenant=tenant, model="haiku", cost_usd=0.001)


def dropped(store: MemoryShadowStore) -> dict[tuple[str, str, str], int]:
    return dict(store.snapshot_now(utc_day(0)).dropped)


async def test_every_eligible_shadow_is_called_and_recorded() -> None:
    runner, store, state = make()
    runner.after_answer(plan(state.policy, BODY), ctx(), ANSWER)
    await runner.drain()
    assert sorted(state.bedrock.calls) == ["amazon.nova-lite", "mistral.mistral-7b"]
    snap = store.snapshot_now(utc_day(0))
    assert set(snap.pairs) == {PairKey("r", "haiku", "nova"), PairKey("r", "haiku", "mistral")}
    stats = snap.pairs[PairKey("r", "haiku", "nova")]
    assert stats.count("calls") == stats.count("ok") == 1
    assert stats.count("exact_yes") == 1  # "hello" both ways
    assert stats.count("cost_usd") == pytest.approx((10 * 0.06 + 5 * 0.24) / 1e6)
    assert stats.count("primary_cost_usd") == pytest.approx(0.001)
    assert dropped(store) == {("r", "llama", "ineligible:context_window"): 1}
    assert snap.routes["r"].requests == 1


async def test_routes_without_shadow_are_ignored() -> None:
    runner, store, state = make()
    runner.after_answer(plan(state.policy, {**BODY, "model": "none"}), ctx(), ANSWER)
    assert not state.bedrock.calls and not store.snapshot_now("").routes


async def test_opt_out_and_tenant_veto_drop_every_shadow() -> None:
    runner, store, state = make()
    runner.after_answer(plan(state.policy, BODY, opt_out=True), ctx(), ANSWER)
    runner.after_answer(plan(state.policy, BODY, tenant="hidden"), ctx("hidden"), ANSWER)
    await runner.drain()
    assert state.bedrock.calls == []
    got = dropped(store)
    assert got[("r", "nova", "opt_out")] == 1 and got[("r", "nova", "tenant")] == 1


async def test_in_flight_limit_drops_and_aclose_cancels() -> None:
    bedrock = FakeBedrock()
    bedrock.gate = asyncio.Event()
    runner, store, state = make(bedrock)
    runner.after_answer(plan(state.policy, BODY), ctx(), ANSWER)
    runner.after_answer(plan(state.policy, BODY), ctx(), ANSWER)
    await asyncio.sleep(0)
    assert runner.in_flight("r") == 2  # max_in_flight: 2
    got = dropped(store)
    assert got[("r", "nova", "in_flight")] == 1 and got[("r", "mistral", "in_flight")] == 1
    await runner.aclose()
    assert runner.in_flight() == 0
    runner.after_answer(plan(state.policy, BODY), ctx(), ANSWER)  # closed: nothing
    assert len(bedrock.calls) == 2


async def test_budget_drops_once_spent_plus_estimate_exceeds_it() -> None:
    runner, store, state = make()
    body = {**BODY, "model": "budget"}
    for _ in range(10):
        runner.after_answer(plan(state.policy, body), ctx(), ANSWER)
        await runner.drain()
    calls = len(state.bedrock.calls)
    spent = runner.spent_today("budget")
    assert 1 <= calls < 10
    assert dropped(store)[("budget", "nova", "budget")] == 10 - calls
    assert spent <= 0.00001
    assert spent == pytest.approx(calls * (10 * 0.06 + 5 * 0.24) / 1e6)


async def test_a_failed_shadow_call_is_counted_by_kind() -> None:
    class Throttled(FakeBedrock):
        async def converse(self, model_id: str, body: bytes, *, timeout: float) -> Any:
            raise UpstreamThrottledError("slow down")

    runner, store, state = make(Throttled())
    runner.after_answer(plan(state.policy, BODY), ctx(), ANSWER)
    await runner.drain()
    stats = store.snapshot_now("").pairs[PairKey("r", "haiku", "nova")]
    assert stats.errors() == {"throttled": 1}
    assert stats.count("ok") == 0 and not stats.samples["latency"]


async def test_called_from_a_worker_thread_it_hops_to_the_loop() -> None:
    runner, _, state = make()
    await runner.start()
    p = plan(state.policy, BODY)
    thread = threading.Thread(target=runner.after_answer, args=(p, ctx(), ANSWER))
    thread.start()
    thread.join()
    for _ in range(100):
        await asyncio.sleep(0.001)
        if len(state.bedrock.calls) == 2:
            break
    await runner.drain()
    assert sorted(state.bedrock.calls) == ["amazon.nova-lite", "mistral.mistral-7b"]


async def test_answers_are_kept_only_when_asked() -> None:
    runner, _, state = make()
    runner.after_answer(plan(state.policy, BODY), ctx(), ANSWER)
    await runner.drain()
    assert "answers" not in await runner.report()
    keeping, _, state = make(keep_answers=5)
    keeping.after_answer(plan(state.policy, BODY), ctx(), ANSWER)
    await keeping.drain()
    kept = (await keeping.report())["answers"]
    assert {a["shadow"] for a in kept} == {"nova", "mistral"}
    assert kept[0]["primary_answer"] == "hello"
