"""Cache: routing stats shared across replicas — latency estimates and open circuits via Redis.

A background task syncs every ``interval_s`` in ONE pipelined round trip: it pushes what this
replica learnt since the last sync and pulls every replica's view, which it folds into the
local ``LocalStats`` with ``merge``. Requests never wait on Redis: they read ``LocalStats``.

Keys (both hashes, field ``<replica>|<model>``, value JSON, times as wall-clock seconds):

- ``<prefix>stats:latency``: ``{m, r, ttft_ms, ttft_at, total_ms, total_at, n}`` — the
  replica's decaying averages when it observed new successes (``n`` of them since its last
  push). Key TTL ``ttl_s`` (refreshed by each write); entries older than that are ignored and
  deleted by the next replica to see them.
- ``<prefix>stats:circuits``: ``{m, r, opened_at, seen}`` — a circuit this replica opened
  itself, re-pushed every sync while open and deleted when it closes. Entries not re-pushed
  for ``3 * interval_s`` (a replica gone) are ignored and deleted. Key TTL
  ``max(30, 10 * interval_s)``. A reader opens its own circuit with the same start; its own
  cool-down then applies.

Each remote entry is merged once (by its timestamps), so repeated pulls never re-average.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import orjson
from redis.asyncio import Redis

from gateway.cache.redis_client import RedisConnection, expect
from gateway.routing.stats import LocalStats

Entry = dict[str, Any]
Pulled = tuple[Mapping[bytes, bytes], Mapping[bytes, bytes]]


class SharedStats:
    def __init__(
        self,
        stats: LocalStats,
        conn: RedisConnection,
        *,
        interval_s: float = 1.0,
        ttl_s: float = 900.0,
        replica_id: str | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.stats = stats
        self.replica_id = replica_id or uuid.uuid4().hex[:12]
        self.interval_s = interval_s
        self._conn = conn
        self._ttl_s = ttl_s
        self._circuit_stale_s = max(3 * interval_s, 2.0)
        self._wall = wall
        self._lat_key = conn.key("stats", "latency")
        self._circ_key = conn.key("stats", "circuits")
        self._pushed_successes: dict[str, int] = {}
        self._published_circuits: set[str] = set()
        self._stale_lat: set[bytes] = set()
        self._stale_circ: set[bytes] = set()
        self._merged: dict[tuple[str, str, str], float] = {}
        self._task: asyncio.Task[None] | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="shared-stats")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            await self.sync_once()

    # -- one sync --------------------------------------------------------------------------

    async def sync_once(self) -> bool:
        """Push, pull and merge; False when Redis failed (local stats go on alone)."""
        wall = self._wall()
        snapshot = self.stats.snapshot()
        lat, successes = self._latency_fields(snapshot, wall)
        circ, closed = self._circuit_fields(snapshot, wall)
        mine_closed = (f"{self.replica_id}|{m}".encode() for m in closed)
        del_lat, del_circ = list(self._stale_lat), [*self._stale_circ, *mine_closed]
        pulled = await self._conn.run(
            "stats_sync", lambda r: self._exchange(r, lat, circ, del_lat, del_circ)
        )
        if pulled is None:
            return False
        self._pushed_successes.update(successes)
        self._published_circuits = set(circ_models(circ))
        self._stale_lat, self._stale_circ = set(), set()
        self._merge(pulled, self._wall())
        return True

    async def _exchange(
        self,
        r: Redis,
        lat: dict[str, bytes],
        circ: dict[str, bytes],
        del_lat: list[bytes],
        del_circ: list[bytes],
    ) -> Pulled:
        async with r.pipeline(transaction=False) as pipe:
            if lat:
                pipe.hset(self._lat_key, mapping=lat)  # type: ignore[arg-type]
                pipe.expire(self._lat_key, int(self._ttl_s) + 1)
            if del_lat:
                pipe.hdel(self._lat_key, *del_lat)
            if circ:
                pipe.hset(self._circ_key, mapping=circ)  # type: ignore[arg-type]
                pipe.expire(self._circ_key, int(max(30.0, 10 * self.interval_s)))
            if del_circ:
                pipe.hdel(self._circ_key, *del_circ)
            pipe.hgetall(self._lat_key)
            pipe.hgetall(self._circ_key)
            replies = await pipe.execute()
        pulled_lat, pulled_circ = replies[-2], replies[-1]
        expect(_is_hash(pulled_lat) and _is_hash(pulled_circ), "two hashes of bytes")
        return pulled_lat, pulled_circ

    # -- what we push ----------------------------------------------------------------------

    def _latency_fields(
        self, snapshot: Mapping[str, Mapping[str, Any]], wall: float
    ) -> tuple[dict[str, bytes], dict[str, int]]:
        """Models with successes since the last push: their current averages."""
        fields: dict[str, bytes] = {}
        counts: dict[str, int] = {}
        for model, data in snapshot.items():
            n = int(data["successes"]) - self._pushed_successes.get(model, 0)
            if n <= 0 or (data["ttft_ms"] is None and data["total_ms"] is None):
                continue
            entry: Entry = {"m": model, "r": self.replica_id, "n": n}
            for kind in ("ttft", "total"):
                age = data[f"{kind}_age_s"]
                entry[f"{kind}_ms"] = data[f"{kind}_ms"]
                entry[f"{kind}_at"] = None if age is None else wall - float(age)
            fields[f"{self.replica_id}|{model}"] = orjson.dumps(entry)
            counts[model] = int(data["successes"])
        return fields, counts

    def _circuit_fields(
        self, snapshot: Mapping[str, Mapping[str, Any]], wall: float
    ) -> tuple[dict[str, bytes], list[str]]:
        """Circuits this replica opened itself (it saw the failures), and those since closed."""
        fields: dict[str, bytes] = {}
        for model, data in snapshot.items():
            if data["state"] != "open" or not data["consecutive_failures"]:
                continue
            opened_at = wall - float(data["open_for_s"] or 0.0)
            entry = {"m": model, "r": self.replica_id, "opened_at": opened_at, "seen": wall}
            fields[f"{self.replica_id}|{model}"] = orjson.dumps(entry)
        closed = [m for m in self._published_circuits if f"{self.replica_id}|{m}" not in fields]
        return fields, closed

    # -- what we pull ----------------------------------------------------------------------

    def _merge(self, pulled: Pulled, wall: float) -> None:
        lat_raw, circ_raw = pulled
        remote: dict[str, dict[str, Entry]] = {}
        for field, entry in _entries(lat_raw):
            if not self._take(remote, entry, wall, circuit=False):
                self._stale_lat.add(field)
        for field, entry in _entries(circ_raw):
            if not self._take(remote, entry, wall, circuit=True):
                self._stale_circ.add(field)
        live = {str(entry["r"]) for _, entry in (*_entries(lat_raw), *_entries(circ_raw)) if entry}
        self._merged = {slot: at for slot, at in self._merged.items() if slot[0] in live}
        for per_model in remote.values():
            self.stats.merge(per_model)

    def _take(
        self,
        remote: dict[str, dict[str, Entry]],
        entry: Entry | None,
        wall: float,
        *,
        circuit: bool,
    ) -> bool:
        """Fold a live remote entry in; False for one that is stale or malformed (delete it)."""
        if entry is None:
            return False
        try:
            if circuit:
                if wall - float(entry["seen"]) > self._circuit_stale_s:
                    return False
                if entry["r"] != self.replica_id:
                    self._fold_circuit(remote, entry, wall)
                return True
            if self._stale_latency(entry, wall):
                return False
            if entry["r"] != self.replica_id:
                self._fold_latency(remote, entry, wall)
        except (KeyError, TypeError, ValueError):
            return False
        return True

    def _stale_latency(self, entry: Entry, wall: float) -> bool:
        times = [float(t) for t in (entry.get("ttft_at"), entry.get("total_at")) if t is not None]
        return not times or wall - max(times) > self._ttl_s

    def _fold_latency(self, remote: dict[str, dict[str, Entry]], entry: Entry, wall: float) -> None:
        data: Entry = {}
        for kind in ("ttft", "total"):
            value, at = entry.get(f"{kind}_ms"), entry.get(f"{kind}_at")
            if value is None or at is None or not self._first_time(entry, kind, float(at)):
                continue
            data[f"{kind}_ms"], data[f"{kind}_age_s"] = float(value), max(0.0, wall - float(at))
        if data:
            remote.setdefault(entry["r"], {}).setdefault(entry["m"], {}).update(data)

    def _fold_circuit(self, remote: dict[str, dict[str, Entry]], entry: Entry, wall: float) -> None:
        opened_at = float(entry["opened_at"])
        if self._first_time(entry, "circuit", opened_at):
            data = {"state": "open", "open_for_s": max(0.0, wall - opened_at)}
            remote.setdefault(entry["r"], {}).setdefault(entry["m"], {}).update(data)

    def _first_time(self, entry: Entry, kind: str, at: float) -> bool:
        """True once per remote observation (replica, model, kind, time)."""
        slot = (str(entry["r"]), str(entry["m"]), kind)
        if self._merged.get(slot, float("-inf")) >= at - 1e-6:
            return False
        self._merged[slot] = at
        return True


def circ_models(fields: Mapping[str, bytes]) -> list[str]:
    return [field.split("|", 1)[1] for field in fields]


def _entries(raw: Mapping[bytes, bytes]) -> list[tuple[bytes, Entry | None]]:
    """Decoded hash entries; None for one that is not a well-formed entry (deleted later)."""
    out: list[tuple[bytes, Entry | None]] = []
    for field, value in raw.items():
        try:
            entry = orjson.loads(value)
        except orjson.JSONDecodeError:
            entry = None
        ok = isinstance(entry, dict) and isinstance(entry.get("m"), str) and "r" in entry
        out.append((field, entry if ok else None))
    return out


def _is_hash(reply: object) -> bool:
    return isinstance(reply, dict) and all(
        isinstance(k, bytes) and isinstance(v, bytes) for k, v in reply.items()
    )
