"""Shadow layer: ``ShadowRunner``, the ``ShadowHook`` that copies answered requests to shadow
models in the background and records how they compare.

``after_answer`` runs after the client's answer went out and only decides and schedules: it
samples the route's ``share`` (with an injected ``random.Random``), honours the request's
opt-out (``x-gateway-shadow: off``) and the tenant's (``shadow: false``), keeps only shadow
models that meet every requirement of the request (``eligibility``), and DROPS (counting why)
rather than queues work beyond ``max_in_flight`` calls per route or beyond the route's daily
budget (spent plus what running calls are estimated to cost). Tasks are kept in a set (so they
are not garbage-collected) and cancelled by ``aclose``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import anyio.from_thread

from gateway.errors import GatewayError
from gateway.routing.engine import actual_cost, estimate_cost
from gateway.routing.policy import ModelSpec, Route, ShadowSpec
from gateway.service.chat import ChatPlan
from gateway.service.context import CallContext
from gateway.service.state import GatewayState
from gateway.shadow.agreement import Agreement, Answer, answer_of, compare, cosine
from gateway.shadow.calls import call_chat
from gateway.shadow.eligibility import shadow_targets
from gateway.shadow.embedding import embed_text
from gateway.shadow.metrics import ShadowMetrics
from gateway.shadow.report import build_report, set_projection_gauges
from gateway.shadow.stats_store import MemoryShadowStore, Observation, PairKey, ShadowStore

log = logging.getLogger("gateway.shadow")
PROJECTION_EVERY_S = 10.0


def utc_day(wall: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(wall))


@dataclass(frozen=True, slots=True)
class _Primary:
    model: str
    answer: Answer
    latency_s: float
    ttft_s: float | None
    cost_usd: float


@dataclass
class _Job:
    """One shadowed request: shared by its shadow calls (the primary's embedding once)."""

    plan: ChatPlan
    route: Route
    spec: ShadowSpec
    primary: _Primary
    primary_vector: asyncio.Task[list[float] | None] | None = None
    extra_cost: list[float] = field(default_factory=list)


class ShadowRunner:
    def __init__(
        self,
        state: GatewayState,
        *,
        metrics: ShadowMetrics,
        store: ShadowStore | None = None,
        rng: random.Random | None = None,
        wall: Callable[[], float] = time.time,
        keep_answers: int = 0,
        flush_interval_s: float = 1.0,
    ) -> None:
        self._state = state
        self.metrics = metrics
        self.store: ShadowStore = store if store is not None else MemoryShadowStore()
        self._rng = rng if rng is not None else random.Random()
        self._wall = wall
        self._tasks: set[asyncio.Task[Any]] = set()
        self._in_flight: dict[str, int] = {}
        self._reserved: dict[str, float] = {}
        self._spent: dict[str, tuple[str, float]] = {}
        self._flush_interval_s = flush_interval_s
        self._flusher: asyncio.Task[None] | None = None
        self._projected_at = 0.0
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        #: The latest answer pairs, only when a debug setting asks (never in Redis).
        self.answers: deque[dict[str, Any]] = deque(maxlen=max(keep_answers, 1))
        self._keep_answers = keep_answers > 0

    # -- the hook ----------------------------------------------------------------------------

    def after_answer(self, plan: ChatPlan, ctx: CallContext, completion: Mapping[str, Any]) -> None:
        """Decide and schedule; never waits on a shadow call and never raises into the response.

        Starlette runs a plain function given as a ``BackgroundTask`` in its thread pool: then
        the decision hops to the event loop (``call_soon_threadsafe``, or anyio's bridge until
        the loop is known) and this returns at once."""
        if self._closed:
            return
        primary = self._primary(ctx, completion)
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is not None:
            self._loop = loop
            self._decide(plan, primary, ctx.tenant)
        elif self._loop is not None:
            self._loop.call_soon_threadsafe(self._decide, plan, primary, ctx.tenant)
        else:
            anyio.from_thread.run_sync(self._decide, plan, primary, ctx.tenant)

    def _decide(self, plan: ChatPlan, primary: _Primary, tenant_name: str) -> None:
        if self._closed:
            return
        policy = self._state.policy
        route = policy.routes.get(plan.decision.route)
        if route is None or route.shadow is None:
            return
        spec = route.shadow
        self.store.count_request(route.name, self._wall())
        self._ensure_flusher()
        if spec.share <= 0 or self._rng.random() >= spec.share:
            return
        targets = shadow_targets(
            spec,
            plan.decision,
            prompt_tokens=plan.prepared.prompt_tokens,
            max_tokens=plan.prepared.max_tokens,
            primary=primary.model,
        )
        tenant = policy.tenants.get(plan.decision.tenant or tenant_name)
        veto = "opt_out" if plan.shadow_opt_out else ""
        if not veto and tenant is not None and not tenant.shadow_allowed:
            veto = "tenant"
        job = _Job(plan, route, spec, primary)
        for target in targets:
            reason = veto or (f"ineligible:{target.cause}" if target.cause else "")
            reason = reason or self._admit(route.name, spec, plan, target.model)
            if reason:
                self._drop(route.name, target.model.name, reason)
                continue
            self._spawn(job, target.model)

    async def start(self) -> None:
        """Bind to the running loop (call from the app's lifespan)."""
        self._loop = asyncio.get_running_loop()

    def _primary(self, ctx: CallContext, completion: Mapping[str, Any]) -> _Primary:
        return _Primary(ctx.model, answer_of(completion), ctx.elapsed(), ctx.ttft_s, ctx.cost_usd)

    def _admit(self, route: str, spec: ShadowSpec, plan: ChatPlan, model: ModelSpec) -> str:
        """ "" to run now; else "in_flight" or "budget" (the work is dropped, not queued)."""
        if self._in_flight.get(route, 0) >= spec.max_in_flight:
            return "in_flight"
        if spec.budget_usd_per_day is not None:
            estimate = self._estimate(plan, model)
            committed = self.spent_today(route) + self._reserved.get(route, 0.0)
            if committed + estimate > spec.budget_usd_per_day:
                return "budget"
        return ""

    @staticmethod
    def _estimate(plan: ChatPlan, model: ModelSpec) -> float:
        return estimate_cost(model, plan.prepared.prompt_tokens, plan.decision.output_tokens)

    def _drop(self, route: str, shadow: str, reason: str) -> None:
        self.store.count_drop(route, shadow, reason)
        self.metrics.dropped.labels(route, shadow, reason.partition(":")[0]).inc()

    def _spawn(self, job: _Job, model: ModelSpec) -> None:
        route = job.route.name
        estimate = self._estimate(job.plan, model)
        self._in_flight[route] = self._in_flight.get(route, 0) + 1
        self._reserved[route] = self._reserved.get(route, 0.0) + estimate
        self.metrics.in_flight.labels(route).inc()
        task = asyncio.get_running_loop().create_task(
            self._run(job, model, estimate), name=f"shadow:{route}:{model.name}"
        )
        self._track(task)

    def _track(self, task: asyncio.Task[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("shadow task %s failed", task.get_name(), exc_info=exc)

    # -- the background work -----------------------------------------------------------------

    async def _run(self, job: _Job, model: ModelSpec, estimate: float) -> None:
        route = job.route.name
        try:
            obs = await self._observe(job, model)
            self._count(obs)
            spend = obs.cost_usd + sum(job.extra_cost)
            job.extra_cost.clear()
            total = await self.store.add_spend(route, utc_day(self._wall()), spend)
            self._note_spend(route, spend, total)
            await self.store.record(obs)
            await self._maybe_project()
        finally:
            self._in_flight[route] -= 1
            self._reserved[route] = max(0.0, self._reserved.get(route, 0.0) - estimate)
            self.metrics.in_flight.labels(route).dec()

    async def _observe(self, job: _Job, model: ModelSpec) -> Observation:
        plan, primary = job.plan, job.primary
        key = PairKey(job.route.name, primary.model, model.name)
        base = Observation(
            key, None, 0.0, None, 0, 0, 0.0, primary.latency_s, primary.ttft_s, primary.cost_usd
        )
        bedrock = self._state.bedrock
        started = time.perf_counter()
        try:
            if bedrock is None:
                raise GatewayError("Bedrock client not started")
            result = await call_chat(
                bedrock,
                plan.prepared,
                model,
                guardrail=plan.decision.guardrail,
                stream=bool(plan.request.stream),
                timeout=plan.decision.timeout_s,
                residency_rank=plan.decision.residency_rank,
            )
        except GatewayError as err:
            return replace(base, error=err.reason, latency_s=time.perf_counter() - started)
        usage = result.completion.get("usage") or {}
        tokens_in = int(usage.get("prompt_tokens") or 0)
        tokens_out = int(usage.get("completion_tokens") or 0)
        answer = answer_of(result.completion)
        agreement = compare(primary.answer, answer, json_mode=plan.prepared.json_mode)
        if job.spec.embedding_model is not None:
            agreement = replace(agreement, cosine=await self._cosine(job, answer))
        self._keep(key, primary.answer, answer, agreement)
        return replace(
            base,
            latency_s=result.latency_s,
            ttft_s=result.ttft_s,
            input_tokens=tokens_in,
            output_tokens=tokens_out,
            cost_usd=actual_cost(model, tokens_in, tokens_out),
            agreement=agreement,
        )

    async def _cosine(self, job: _Job, answer: Answer) -> float | None:
        embedder = job.spec.embedding_model
        bedrock = self._state.bedrock
        if embedder is None or bedrock is None or not answer.for_embedding:
            return None
        if job.primary_vector is None:
            job.primary_vector = asyncio.get_running_loop().create_task(
                self._embed(job, embedder, job.primary.answer.for_embedding)
            )
            self._track(job.primary_vector)
        mine = await self._embed(job, embedder, answer.for_embedding)
        theirs = await asyncio.shield(job.primary_vector)
        if mine is None or theirs is None:
            return None
        return cosine(theirs, mine)

    async def _embed(self, job: _Job, embedder: ModelSpec, text: str) -> list[float] | None:
        bedrock = self._state.bedrock
        if bedrock is None or not text:
            return None
        try:
            vector, tokens = await embed_text(bedrock, embedder, text, timeout=job.route.timeout_s)
        except GatewayError as err:
            log.info("shadow embedding with %s failed: %s", embedder.name, err.reason)
            return None
        job.extra_cost.append(actual_cost(embedder, tokens, 0))
        return vector

    def _keep(self, key: PairKey, primary: Answer, shadow: Answer, agreement: Agreement) -> None:
        if self._keep_answers:
            self.answers.append(
                {
                    "route": key.route,
                    "primary": key.primary,
                    "shadow": key.shadow,
                    "primary_answer": primary.text,
                    "shadow_answer": shadow.text,
                    "primary_tool_calls": [list(c) for c in primary.tool_calls],
                    "shadow_tool_calls": [list(c) for c in shadow.tool_calls],
                    "exact": agreement.exact,
                    "tool_calls": agreement.tool_calls,
                }
            )

    def _count(self, obs: Observation) -> None:
        m, (route, primary, shadow) = self.metrics, (obs.key.route, obs.key.primary, obs.key.shadow)
        if obs.error is not None:
            m.calls.labels(route, primary, shadow, "error").inc()
            m.errors.labels(route, primary, shadow, obs.error).inc()
            return
        m.calls.labels(route, primary, shadow, "ok").inc()
        m.duration.labels(route, primary, shadow).observe(obs.latency_s)
        if obs.ttft_s is not None:
            m.ttft.labels(route, primary, shadow).observe(obs.ttft_s)
        m.tokens.labels(route, shadow, "input").inc(obs.input_tokens)
        m.tokens.labels(route, shadow, "output").inc(obs.output_tokens)
        m.cost.labels(route, primary, shadow).inc(obs.cost_usd)
        agreement = obs.agreement
        if agreement is None:
            return
        for check, value in (
            ("exact", agreement.exact),
            ("tool_calls", agreement.tool_calls),
            ("json_valid", agreement.json_valid),
        ):
            if value is not None:
                result = "agree" if value else "disagree"
                m.agreement.labels(route, primary, shadow, check, result).inc()
        if agreement.length_ratio is not None:
            m.length_ratio.labels(route, primary, shadow).observe(agreement.length_ratio)
        if agreement.cosine is not None:
            m.similarity.labels(route, primary, shadow).observe(agreement.cosine)

    # -- budget, flushing, reports -----------------------------------------------------------

    def spent_today(self, route: str) -> float:
        day, usd = self._spent.get(route, ("", 0.0))
        return usd if day == utc_day(self._wall()) else 0.0

    def _note_spend(self, route: str, spend: float, total: float) -> None:
        day = utc_day(self._wall())
        # A store that could not answer (Redis down) returns 0: keep counting locally.
        self._spent[route] = (day, max(total, self.spent_today(route) + spend))

    def in_flight(self, route: str | None = None) -> int:
        if route is None:
            return sum(self._in_flight.values())
        return self._in_flight.get(route, 0)

    def _ensure_flusher(self) -> None:
        if self._flusher is None and self.store.kind != "memory":
            self._flusher = asyncio.get_running_loop().create_task(
                self._flush_loop(), name="shadow-flush"
            )

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self._flush_interval_s)
            await self.store.flush()

    async def _maybe_project(self) -> None:
        now = self._wall()
        if now - self._projected_at >= PROJECTION_EVERY_S:
            self._projected_at = now
            await self.report()

    async def report(self) -> dict[str, Any]:
        """The body of ``GET /v1/gateway/shadow`` (also sets the projection gauges)."""
        self._loop = asyncio.get_running_loop()
        now = self._wall()
        snapshot = await self.store.snapshot(utc_day(now))
        body = build_report(
            snapshot,
            self._state.policy,
            now=now,
            in_flight=dict(self._in_flight),
            store=self.store.kind,
        )
        if self._keep_answers:
            body["answers"] = list(self.answers)
        set_projection_gauges(body, self.metrics)
        return body

    async def drain(self, timeout: float = 30.0) -> None:
        """Wait for the running shadow calls (tests, benchmarks, graceful shutdown)."""
        deadline = time.monotonic() + timeout
        while self._tasks and time.monotonic() < deadline:
            await asyncio.wait(set(self._tasks), timeout=max(0.0, deadline - time.monotonic()))

    async def aclose(self) -> None:
        """Stop taking work, cancel what runs, flush what the store buffered."""
        self._closed = True
        tasks = [*self._tasks, *([self._flusher] if self._flusher else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._flusher = None
        await self.store.flush()
