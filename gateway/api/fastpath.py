"""API: the two hot endpoints served straight from ASGI, beside the same FastAPI app.

Chat completions and embeddings parse their bodies themselves and return ready responses, so
FastAPI's per-request machinery (dependency solving, route matching, exception middleware)
adds only cost there. ``GatewayApp`` hands those two paths to their endpoint functions
directly; every other path, and the OpenAPI document, stay FastAPI's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.api.errors import error_response, handle_unexpected
from gateway.errors import GatewayError

Endpoint = Callable[[Request], Awaitable[Response]]


class FastPath:
    """Runs one endpoint and renders its errors exactly as the app's handlers do."""

    def __init__(self, endpoints: Mapping[str, Endpoint]) -> None:
        self.endpoints = dict(endpoints)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            response = await self.endpoints[scope["path"]](request)
        except GatewayError as err:
            response = error_response(request, err)
        except Exception as exc:  # noqa: BLE001 - the outermost 500 handler of this path
            response = await handle_unexpected(request, exc)
        await response(scope, receive, send)


class GatewayApp(FastAPI):
    """FastAPI, with ``fast_paths`` (POST only) answered by ``fast_app`` when set."""

    fast_app: ASGIApp | None = None
    fast_paths: frozenset[str] = frozenset()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.fast_app is not None
            and scope["type"] == "http"
            and scope["path"] in self.fast_paths
            and scope["method"] == "POST"
        ):
            scope["app"] = self
            await self.fast_app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)
