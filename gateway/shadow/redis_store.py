"""Shadow layer: the comparison aggregates in Redis, shared by every replica.

Keys (prefix from the ``RedisConnection``, every one with a TTL refreshed on write):
``shadow:pairs`` (set of ``route|primary|shadow``), ``shadow:pair:<pair>`` (hash of the
counters of ``stats_store.increments``), ``shadow:s:<series>:<pair>`` (list of the latest
``SAMPLES`` seconds), ``shadow:routes`` / ``shadow:first_seen`` (hashes by route),
``shadow:dropped`` (hash by ``route|shadow|reason``), ``shadow:spend:<day>`` (hash by route).
Request and drop counts are buffered in the process and sent by ``flush`` (the runner calls
it in the background); when Redis is down they stay buffered (bounded by the policy's names)
and the report says the store is degraded, never failing a request.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from redis.asyncio import Redis

from gateway.cache.redis_client import RedisConnection
from gateway.shadow.stats_store import (
    SAMPLE_SERIES,
    SAMPLES,
    Observation,
    PairKey,
    PairStats,
    RouteTraffic,
    Snapshot,
    increments,
    samples_of,
)

TTL_S = 30 * 86400
SPEND_TTL_S = 2 * 86400


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


class RedisShadowStore:
    kind = "redis"

    def __init__(self, conn: RedisConnection) -> None:
        self._conn = conn
        self._pending_requests: dict[str, tuple[int, float]] = {}
        self._pending_drops: dict[str, int] = {}
        self._pairs_key = conn.key("shadow", "pairs")
        self._routes_key = conn.key("shadow", "routes")
        self._first_key = conn.key("shadow", "first_seen")
        self._drops_key = conn.key("shadow", "dropped")

    def _pair_key(self, pair: str) -> str:
        return self._conn.key("shadow", "pair", pair)

    def _series_key(self, series: str, pair: str) -> str:
        return self._conn.key("shadow", "s", series, pair)

    def count_request(self, route: str, now: float) -> None:
        count, first = self._pending_requests.get(route, (0, now))
        self._pending_requests[route] = (count + 1, first)

    def count_drop(self, route: str, shadow: str, reason: str) -> None:
        field = f"{route}|{shadow}|{reason}"
        self._pending_drops[field] = self._pending_drops.get(field, 0) + 1

    async def _run(self, op: str, build: Callable[[Any], None]) -> list[Any] | None:
        async def call(client: Redis) -> list[Any]:
            pipe = client.pipeline(transaction=False)
            build(pipe)
            result: list[Any] = await pipe.execute()
            return result

        run: Awaitable[list[Any] | None] = self._conn.run(op, call)
        return await run

    async def flush(self) -> None:
        requests, self._pending_requests = self._pending_requests, {}
        drops, self._pending_drops = self._pending_drops, {}
        if not requests and not drops:
            return

        def build(pipe: Any) -> None:
            for route, (count, first) in requests.items():
                pipe.hincrby(self._routes_key, route, count)
                pipe.hsetnx(self._first_key, route, repr(first))
            for field, count in drops.items():
                pipe.hincrby(self._drops_key, field, count)
            for key in (self._routes_key, self._first_key, self._drops_key):
                pipe.expire(key, TTL_S)

        if await self._run("shadow_flush", build) is None:
            for route, (count, first) in requests.items():
                pending, _ = self._pending_requests.get(route, (0, first))
                self._pending_requests[route] = (pending + count, first)
            for field, count in drops.items():
                self._pending_drops[field] = self._pending_drops.get(field, 0) + count

    async def record(self, obs: Observation) -> None:
        pair = obs.key.encode()
        key = self._pair_key(pair)

        def build(pipe: Any) -> None:
            pipe.sadd(self._pairs_key, pair)
            pipe.expire(self._pairs_key, TTL_S)
            for name, value in increments(obs).items():
                pipe.hincrbyfloat(key, name, value)
            pipe.expire(key, TTL_S)
            for series, value in samples_of(obs).items():
                list_key = self._series_key(series, pair)
                pipe.lpush(list_key, repr(value))
                pipe.ltrim(list_key, 0, SAMPLES - 1)
                pipe.expire(list_key, TTL_S)

        await self.flush()
        await self._run("shadow_record", build)

    async def add_spend(self, route: str, day: str, usd: float) -> float:
        key = self._conn.key("shadow", "spend", day)

        def build(pipe: Any) -> None:
            pipe.hincrbyfloat(key, route, usd)
            pipe.expire(key, SPEND_TTL_S)

        result = await self._run("shadow_spend", build)
        return float(result[0]) if result else 0.0

    async def snapshot(self, day: str) -> Snapshot:
        await self.flush()
        members = await self._conn.run("shadow_read", lambda r: r.smembers(self._pairs_key))
        if members is None:
            return Snapshot({}, {}, {}, {}, shared=True, degraded=True)
        pairs = sorted(_text(m) for m in members)
        spend_key = self._conn.key("shadow", "spend", day)

        def build(pipe: Any) -> None:
            for pair in pairs:
                pipe.hgetall(self._pair_key(pair))
                for series in SAMPLE_SERIES:
                    pipe.lrange(self._series_key(series, pair), 0, SAMPLES - 1)
            for key in (self._routes_key, self._first_key, self._drops_key, spend_key):
                pipe.hgetall(key)

        result = await self._run("shadow_read", build)
        if result is None:
            return Snapshot({}, {}, {}, {}, shared=True, degraded=True)
        return _decode(pairs, result)


def _floats(raw: Mapping[Any, Any]) -> dict[str, float]:
    return {_text(k): float(_text(v)) for k, v in raw.items()}


def _decode(pairs: list[str], result: list[Any]) -> Snapshot:
    width = 1 + len(SAMPLE_SERIES)
    stats: dict[PairKey, PairStats] = {}
    for index, pair in enumerate(pairs):
        chunk = result[index * width : (index + 1) * width]
        item = PairStats(counters=_floats(chunk[0]))
        for series, values in zip(SAMPLE_SERIES, chunk[1:], strict=True):
            # LPUSH keeps the newest first; samples are oldest first.
            item.samples[series] = deque(
                (float(_text(v)) for v in reversed(values)), maxlen=SAMPLES
            )
        stats[PairKey.decode(pair)] = item
    routes_raw, first_raw, drops_raw, spend_raw = result[len(pairs) * width :]
    first = _floats(first_raw)
    routes = {
        route: RouteTraffic(int(count), first.get(route, 0.0))
        for route, count in _floats(routes_raw).items()
    }
    dropped: dict[tuple[str, str, str], int] = {}
    for field, count in _floats(drops_raw).items():
        route, shadow, reason = field.split("|", 2)
        dropped[(route, shadow, reason)] = int(count)
    return Snapshot(stats, routes, dropped, _floats(spend_raw), shared=True)
