"""App: ``create_app(settings)``, the only place where concrete parts are wired together."""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware

from gateway.api import admin, chat, embeddings, health, models
from gateway.api.access_log import AccessLog
from gateway.api.errors import handle_gateway_error, handle_http_error, handle_unexpected
from gateway.api.middleware import CallContextMiddleware
from gateway.api.openapi import install_openapi
from gateway.api.reloader import PolicyWatcher
from gateway.api.state import GatewayState
from gateway.cache.store import MemoryCache, NoCache, ResponseCache
from gateway.config import Settings
from gateway.errors import GatewayError
from gateway.metrics import Metrics
from gateway.providers.bedrock import BedrockClient
from gateway.routing.loader import load_policy
from gateway.routing.stats import LocalStats

VERSION = "0.1.0"


def build_state(settings: Settings, registry: CollectorRegistry | None = None) -> GatewayState:
    """Everything that needs no event loop: policy (refused here if invalid), metrics, stats."""
    policy = load_policy(settings.policies, default_key_hashes=settings.api_key_hashes())
    cache: ResponseCache = MemoryCache()
    if policy.defaults.cache.when == "never":
        cache = NoCache()
    return GatewayState(
        settings=settings,
        policy=policy,
        policy_source=str(settings.policies),
        metrics=Metrics(registry or CollectorRegistry(), version=VERSION),
        stats=LocalStats(),
        cache=cache,
        admin_key_hash=settings.admin_key_hash(),
        rng=random.Random(),
    )


def create_app(settings: Settings, *, registry: CollectorRegistry | None = None) -> FastAPI:
    state = build_state(settings, registry)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.bedrock = await BedrockClient.from_environment(
            pool_size=settings.upstream_pool_size,
            connect_timeout=settings.upstream_connect_timeout_s,
        )
        state.http = aiohttp.ClientSession() if settings.allow_image_urls else None
        watcher = PolicyWatcher(state)
        watcher.start()
        try:
            yield
        finally:
            await watcher.stop()
            state.metrics.worker_exited()
            await state.bedrock.close()
            if state.http is not None:
                await state.http.close()

    app = FastAPI(
        title="Bedrock LLM gateway",
        version=VERSION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.gateway = state
    for module in (chat, embeddings, models, health, admin):
        app.include_router(module.router)
    app.add_exception_handler(GatewayError, handle_gateway_error)
    app.add_exception_handler(HTTPException, handle_http_error)
    app.add_exception_handler(Exception, handle_unexpected)
    origins = settings.cors_origin_list()
    if origins:
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST"])
    access_log = AccessLog(
        logging.getLogger("gateway.access"), json_format=settings.log_format == "json"
    )
    app.add_middleware(CallContextMiddleware, metrics=state.metrics, access_log=access_log)
    install_openapi(app)
    return app


def app_from_environment() -> FastAPI:
    """Factory for ``uvicorn --factory`` and multi-worker runs: settings from the environment."""
    return create_app(Settings())
