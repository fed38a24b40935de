"""App: ``create_app(settings)``, the only place where concrete parts are wired together."""

from __future__ import annotations

import asyncio
import logging
import os
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp

from gateway.api import admin, chat, embeddings, health, models, responses, shadow, ui
from gateway.api.access_log import AccessLog
from gateway.api.errors import handle_gateway_error, handle_http_error, handle_unexpected
from gateway.api.fastpath import FastPath, GatewayApp
from gateway.api.middleware import CallContextMiddleware
from gateway.api.openapi import install_openapi
from gateway.api.reloader import PolicyWatcher
from gateway.cache.responses import ResponseStore
from gateway.cache.store import MemoryCache
from gateway.config import Settings
from gateway.errors import GatewayError
from gateway.limits.memory import MemoryLimits
from gateway.metrics import Metrics
from gateway.providers.aws_config import policy_region
from gateway.providers.bedrock import BedrockClient
from gateway.providers.discovery import discovery_applies
from gateway.routing.loader import load_policy
from gateway.routing.stats import LocalStats
from gateway.service.region_discovery import RegionDiscovery
from gateway.service.state import GatewayState
from gateway.serving import tune_gc
from gateway.shadow.metrics import ShadowMetrics
from gateway.shadow.runner import ShadowRunner
from gateway.tracing import Tracing

VERSION = "0.1.0"
# What browser code may read of an answer when CORS is on.
EXPOSED_HEADERS = (
    "x-request-id",
    "x-gateway-route",
    "x-gateway-model",
    "x-gateway-cache",
    "x-gateway-attempts",
    "x-gateway-cost-usd",
    "retry-after",
)


class GatewayCORS(CORSMiddleware):
    """Starlette's CORS with the gateway's options, for FastAPI's stack and the fast path."""

    def __init__(self, app: ASGIApp, *, origins: list[str]) -> None:
        super().__init__(
            app,
            allow_origins=origins,
            allow_methods=["GET", "POST"],
            allow_headers=["*"],
            expose_headers=[*EXPOSED_HEADERS],
            max_age=600,
        )


def build_state(settings: Settings, registry: CollectorRegistry | None = None) -> GatewayState:
    """Everything that needs no event loop: policy (refused here if invalid), metrics, stats."""
    region = policy_region()
    policy = load_policy(
        settings.policies, default_key_hashes=settings.api_key_hashes(), region=region
    )
    state = GatewayState(
        settings=settings,
        policy=policy,
        policy_source=str(settings.policies),
        metrics=Metrics(
            registry or CollectorRegistry(),
            version=VERSION,
            tenant_labels=settings.metrics_tenant_labels,
        ),
        stats=LocalStats(),
        cache=MemoryCache(),
        limits=MemoryLimits(),
        admin_key_hash=settings.admin_key_hash(),
        rng=random.Random(),
        region=region,
    )
    state.responses = ResponseStore.in_memory(settings.responses_ttl_s)
    return state


def start_discovery(state: GatewayState) -> RegionDiscovery | None:
    """The background region discovery, when it applies (``GATEWAY_DISCOVERY``)."""
    settings, bedrock = state.settings, state.require_bedrock()
    if settings.discovery_interval_s <= 0:
        return None
    if not discovery_applies(settings.discovery, bedrock.endpoint_url):
        return None
    discovery = RegionDiscovery(
        state,
        region=bedrock.region,
        interval_s=settings.discovery_interval_s,
        timeout_s=settings.discovery_timeout_s,
    )
    discovery.start()
    state.discovery = discovery
    return discovery


def connect_redis(state: GatewayState, url: str) -> None:
    """Redis replaces the in-memory cache, limits and stats sharing (each fails open).

    Imported here, not at the top: a gateway without Redis does not carry the client's
    modules (about 6 MB of resident memory).
    """
    from gateway.cache.redis_cache import RedisCache
    from gateway.cache.redis_client import RedisAuth, RedisConnection
    from gateway.cache.shared_stats import SharedStats
    from gateway.cache.singleflight import RedisFlightLock
    from gateway.limits.redis_limits import RedisLimits

    settings = state.settings
    password = settings.redis_password
    conn = RedisConnection.from_url(
        url,
        timeout_s=settings.redis_timeout_s,
        pause_s=settings.redis_retry_s,
        on_error=lambda op: state.metrics.redis_errors.labels(op).inc(),
        auth=RedisAuth(
            username=settings.redis_username,
            password=password.get_secret_value() if password is not None else None,
            ca_file=settings.redis_ca_file or None,
        ),
    )
    state.redis = conn
    state.cache = RedisCache(conn)
    state.responses = ResponseStore.in_redis(conn, state.settings.responses_ttl_s)
    state.limits = RedisLimits(conn, MemoryLimits())
    state.flight_lock = RedisFlightLock(conn)
    state.shared_stats = SharedStats(state.stats, conn)
    state.shared_stats.start()


async def disconnect_redis(state: GatewayState) -> None:
    if state.shared_stats is not None:
        await state.shared_stats.stop()
    if state.redis is not None:
        await state.redis.close()


def create_app(settings: Settings, *, registry: CollectorRegistry | None = None) -> FastAPI:
    state = build_state(settings, registry)
    state.tracing = Tracing.from_environment(
        os.environ, version=VERSION, capture_content=settings.log_prompts
    )
    runner = ShadowRunner(
        state,
        metrics=ShadowMetrics(state.metrics.registry),
        keep_answers=settings.shadow_keep_answers,
    )
    state.shadow = runner

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.bedrock = await BedrockClient.from_environment(
            pool_size=settings.upstream_pool_size,
            connect_timeout=settings.upstream_connect_timeout_s,
            pool_timeout=settings.upstream_pool_timeout_s,
            bearer_token_file=settings.bearer_token_file or None,
            on_pool_wait=state.metrics.note_pool_wait,
        )
        if settings.allow_image_urls:  # aiohttp is loaded only for fetching image URLs
            import aiohttp

            state.http = aiohttp.ClientSession()
        if settings.redis_url is not None:
            connect_redis(state, settings.redis_url.get_secret_value())
            from gateway.shadow.redis_store import RedisShadowStore

            assert state.redis is not None
            runner.store = RedisShadowStore(state.redis)
        await runner.start()
        watcher = PolicyWatcher(state)
        watcher.start()
        discovery = start_discovery(state)
        try:
            yield
        finally:
            if discovery is not None:
                await discovery.stop()
            await watcher.stop()
            await runner.aclose()
            await disconnect_redis(state)
            state.metrics.worker_exited()
            await state.bedrock.close()
            if state.http is not None:
                await state.http.close()
            await asyncio.to_thread(state.tracing.shutdown)  # flushes the last spans

    app = GatewayApp(
        title="Bedrock LLM gateway",
        version=VERSION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        # Starlette's trailing-slash redirect builds its Location from the Host header: a
        # response made of an untrusted value. A path with a slash is a plain 404 instead.
        redirect_slashes=False,
    )
    app.state.gateway = state
    for module in (chat, embeddings, responses, models, health, admin, shadow, ui):
        app.include_router(module.router)
    app.add_exception_handler(GatewayError, handle_gateway_error)
    app.add_exception_handler(HTTPException, handle_http_error)
    app.add_exception_handler(Exception, handle_unexpected)
    origins = settings.cors_origin_list()
    if origins:
        app.add_middleware(GatewayCORS, origins=origins)
    access_log = AccessLog(
        logging.getLogger("gateway.access"), json_format=settings.log_format == "json"
    )
    app.add_middleware(
        CallContextMiddleware, metrics=state.metrics, access_log=access_log, tracing=state.tracing
    )
    # The model endpoints' POSTs always take the fast path (CORS included, the same
    # middleware as FastAPI's), so each has one behaviour; preflights go through FastAPI.
    hot = {
        "/v1/chat/completions": chat.chat_completions,
        "/v1/embeddings": embeddings.embeddings,
        "/v1/responses": responses.create_response,
    }
    endpoints: ASGIApp = FastPath(hot)
    if origins:
        endpoints = GatewayCORS(endpoints, origins=origins)
    app.fast_app = CallContextMiddleware(endpoints, state.metrics, access_log, state.tracing)
    app.fast_paths = frozenset(hot)
    install_openapi(app)
    return app


def app_from_environment() -> FastAPI:
    """Factory for ``uvicorn --factory`` and multi-worker runs: settings from the environment."""
    tune_gc()
    return create_app(Settings())
