"""Limits: rate limits and budgets in Redis, atomic across replicas (Lua), failing open to memory.

Keys (``{tenant}`` is a hash tag, so one tenant's keys share a cluster slot):

- ``<prefix>limit:{tenant}:req`` and ``...:tok``: hash ``l`` (level, may be negative after
  a settle) and ``t`` (Redis server time, ms). PEXPIRE = time to refill to full + 1 s, so a
  missing key means a full bucket.
- ``<prefix>spend:{tenant}:<YYYY-MM-DD>``: the day's USD, reservations of calls in flight
  included (``RESERVE_LUA`` checks and adds in one step; the settle adds real cost minus the
  reservation with INCRBYFLOAT), TTL ~2 days.

The buckets use Redis's clock (``TIME`` inside the script), so replicas' clocks never disagree.
When a call fails (``RedisConnection.run`` returns None: an error, a timeout, or a reply of
the wrong type, shape or value, e.g. a key of another type or a spend that is not a number)
that call is served by the in-memory fallback: limits then hold per replica until Redis is back.
The fallback's budget counters start from the last spend this replica saw in Redis, so an
outage does not hand every replica a fresh day's budget.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from redis.asyncio import Redis

from gateway.limits.backend import (
    ALLOWED,
    SPEND_TTL_S,
    LimitResult,
    SpendHold,
    Which,
    seconds_to_utc_midnight,
    utc_day,
)
from gateway.limits.memory import MemoryLimits
from gateway.routing.policy import RateLimit

T = TypeVar("T")


def slot_tag(name: str) -> str:
    """``{name}``: a Redis Cluster hash tag that keeps one tenant's keys (and so every Lua
    script's keys) in one slot whatever the name holds: braces, which would end or empty the
    tag, and ``%`` are percent-encoded."""
    escaped = name.replace("%", "%25").replace("{", "%7B").replace("}", "%7D")
    return "{" + (escaped or "%") + "}"


class RedisRunner(Protocol):
    """What this needs of ``gateway.cache.redis_client.RedisConnection`` (a sibling layer,
    so it is described here rather than imported)."""

    client: Redis

    def key(self, *parts: str) -> str: ...

    async def run(self, op: str, fn: Callable[[Redis], Awaitable[T]]) -> T | None: ...


# Shared helpers: the server clock in ms, a bucket's refilled level, and storing one.
_BUCKET_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function level(key, cap)
  local v = redis.call('HMGET', key, 'l', 't')
  if not v[1] then return cap end
  local l = tonumber(v[1]) + math.max(0, now - tonumber(v[2])) * cap / 60000
  if l > cap then l = cap end
  return l
end
local function store(key, cap, l)
  if l > cap then l = cap end
  redis.call('HSET', key, 'l', tostring(l), 't', tostring(now))
  redis.call('PEXPIRE', key, math.ceil((cap - l) * 60000 / cap) + 1000)
end
local function wait(l, need, cap)
  local want = math.min(need, cap)
  if l >= want then return 0 end
  return (want - l) * 60000 / cap
end
"""

# KEYS: requests bucket, tokens bucket. ARGV: requests/min (0: none), tokens/min (0: none),
# estimated tokens. Returns {1, 0, 0} after taking 1 request and the tokens, or
# {0, retry_after_ms, 1 (requests) | 2 (tokens)} having taken nothing.
ACQUIRE_LUA = (
    _BUCKET_LUA
    + """
local rcap, tcap, need = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local rl, tl, wr, wt = 0, 0, 0, 0
if rcap > 0 then rl = level(KEYS[1], rcap); wr = wait(rl, 1, rcap) end
if tcap > 0 then tl = level(KEYS[2], tcap); wt = wait(tl, need, tcap) end
if wr > 0 or wt > 0 then
  if wr >= wt then return {0, math.ceil(wr), 1} end
  return {0, math.ceil(wt), 2}
end
if rcap > 0 then store(KEYS[1], rcap, rl - 1) end
if tcap > 0 then store(KEYS[2], tcap, tl - need) end
return {1, 0, 0}
"""
)

# KEYS: tokens bucket. ARGV: tokens/min, actual - estimated (negative gives tokens back).
SETTLE_LUA = (
    _BUCKET_LUA
    + """
local cap, delta = tonumber(ARGV[1]), tonumber(ARGV[2])
store(KEYS[1], cap, level(KEYS[1], cap) - delta)
return 1
"""
)

# KEYS: the day's spend. ARGV: budget, USD to reserve, TTL s. Returns {1, spend} after adding
# the reservation, {0, spend} when the day's spend (reservations included) already reached the
# budget; spend as a string. A counter that is not a finite number is an error (the caller
# fails open to memory).
RESERVE_LUA = """
local v = redis.call('GET', KEYS[1])
local spent = 0
if v then
  spent = tonumber(v)
  if spent == nil or spent ~= spent or spent == math.huge or spent == -math.huge then
    return redis.error_reply('ERR spend counter is not a number')
  end
end
if spent >= tonumber(ARGV[1]) then return {0, tostring(spent)} end
local now = redis.call('INCRBYFLOAT', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return {1, now}
"""

_WHICH: dict[int, Which] = {1: "requests", 2: "tokens"}


def _acquire_reply(reply: Any) -> tuple[int, int, int]:
    """``{allowed, retry_ms, which}`` as three ints; anything else is an unexpected reply."""
    if not isinstance(reply, list) or len(reply) != 3:
        raise ValueError("limits_acquire: expected a list of three integers")
    allowed, retry_ms, which = reply
    if not all(isinstance(x, int) for x in (allowed, retry_ms, which)):
        raise ValueError("limits_acquire: expected a list of three integers")
    return allowed, retry_ms, which


class RedisLimits:
    """``LimitsBackend`` on Redis; ``fallback`` serves any call Redis could not."""

    def __init__(
        self,
        conn: RedisRunner,
        fallback: MemoryLimits,
        *,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._conn = conn
        self._fallback = fallback
        self._wall = wall
        self._acquire = conn.client.register_script(ACQUIRE_LUA)
        self._settle = conn.client.register_script(SETTLE_LUA)
        self._reserve = conn.client.register_script(RESERVE_LUA)

    def _bucket(self, tenant: str, kind: str) -> str:
        return self._conn.key("limit", slot_tag(tenant), kind)

    def _spend_key(self, tenant: str, day: str) -> str:
        return self._conn.key("spend", slot_tag(tenant), day)

    async def acquire(self, tenant: str, limit: RateLimit, tokens: int) -> LimitResult:
        rpm, tpm = limit.requests_per_minute or 0, limit.tokens_per_minute or 0
        if not rpm and not tpm:
            return ALLOWED
        keys = [self._bucket(tenant, "req"), self._bucket(tenant, "tok")]
        args = [rpm, tpm, max(0, tokens)]

        async def take(r: Redis) -> tuple[int, int, int]:
            return _acquire_reply(await self._acquire(keys=keys, args=args, client=r))

        reply = await self._conn.run("limits_acquire", take)
        if reply is None:
            return await self._fallback.acquire(tenant, limit, tokens)
        allowed, retry_ms, which = reply
        if allowed:
            return ALLOWED
        return LimitResult(False, retry_ms / 1000.0, _WHICH.get(which, "requests"))

    async def settle_tokens(
        self, tenant: str, limit: RateLimit, estimated: int, actual: int
    ) -> None:
        tpm = limit.tokens_per_minute
        if not tpm or actual == estimated:
            return
        keys, args = [self._bucket(tenant, "tok")], [tpm, actual - estimated]

        async def correct(r: Redis) -> bool:
            done = await self._settle(keys=keys, args=args, client=r)
            if done != 1:
                raise ValueError("limits_settle: expected 1")
            return True

        if await self._conn.run("limits_settle", correct) is None:
            await self._fallback.settle_tokens(tenant, limit, estimated, actual)

    async def spend_allowed(self, tenant: str, usd_per_day: float) -> LimitResult:
        wall = self._wall()
        day = utc_day(wall)
        key = self._spend_key(tenant, day)

        async def read(r: Redis) -> float:
            raw = await r.get(key)
            spent = 0.0 if raw is None else float(raw)
            if not math.isfinite(spent):
                raise ValueError("spend_get: the spend is not a finite number")
            return spent

        spent = await self._conn.run("spend_get", read)
        if spent is None:
            return await self._fallback.spend_allowed(tenant, usd_per_day)
        self._fallback.note_spend(tenant, day, spent)
        if spent < usd_per_day:
            return ALLOWED
        return LimitResult(False, seconds_to_utc_midnight(wall))

    async def reserve_spend(
        self, tenant: str, usd_per_day: float, usd: float
    ) -> tuple[LimitResult, SpendHold | None]:
        wall = self._wall()
        day = utc_day(wall)
        keys = [self._spend_key(tenant, day)]
        args: list[str | int] = [repr(usd_per_day), repr(max(0.0, usd)), SPEND_TTL_S]

        async def reserve(r: Redis) -> tuple[bool, float]:
            return _reserve_reply(await self._reserve(keys=keys, args=args, client=r))

        reply = await self._conn.run("spend_reserve", reserve)
        if reply is None:
            return await self._fallback.reserve_spend(tenant, usd_per_day, usd)
        held, spent = reply
        self._fallback.note_spend(tenant, day, spent)
        if not held:
            return LimitResult(False, seconds_to_utc_midnight(wall)), None
        return ALLOWED, SpendHold(tenant, day, usd)

    async def settle_spend(self, hold: SpendHold, actual_usd: float) -> None:
        if hold.local:
            await self._fallback.settle_spend(hold, actual_usd)
            return
        delta = max(0.0, actual_usd) - hold.usd
        if delta == 0:
            return
        key = self._spend_key(hold.tenant, hold.day)

        async def adjust(r: Redis) -> float:
            async with r.pipeline(transaction=True) as pipe:
                pipe.incrbyfloat(key, delta)
                pipe.expire(key, SPEND_TTL_S)
                spent, _ = await pipe.execute()
            if not isinstance(spent, float) or not math.isfinite(spent):
                raise ValueError("spend_settle: expected a number")
            return spent

        # On failure the reservation stays counted: the budget errs on the safe side.
        spent = await self._conn.run("spend_settle", adjust)
        if spent is not None:
            self._fallback.note_spend(hold.tenant, hold.day, spent)


def _reserve_reply(reply: Any) -> tuple[bool, float]:
    """``{0|1, spend}``; anything else (or a spend that is not a finite number) is unexpected."""
    if not isinstance(reply, list) or len(reply) != 2 or reply[0] not in (0, 1):
        raise ValueError("spend_reserve: expected {0|1, spend}")
    spent = float(reply[1])
    if not math.isfinite(spent):
        raise ValueError("spend_reserve: the spend is not a finite number")
    return reply[0] == 1, spent
