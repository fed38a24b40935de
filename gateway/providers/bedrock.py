"""Providers: the async Bedrock Runtime client (aiohttp transport, SigV4 or bearer auth)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
import orjson
from yarl import URL

from gateway.errors import UpstreamMalformedError, UpstreamTimeoutError
from gateway.providers.aws_config import resolve_environment
from gateway.providers.bedrock_errors import (
    error_from_response,
    error_from_transport,
    is_expired_token,
)
from gateway.providers.credentials import Auth, default_resolver
from gateway.providers.event_stream import ConverseEventStream
from gateway.providers.signing import SigV4Signer, canonical_uri
from gateway.providers.transport import PoolWaitHook, Response, Stream, Transport, TransportError

__all__ = ["REQUEST_ID_KEY", "BedrockClient", "ConverseEventStream", "InvokeResult"]

#: Where :meth:`BedrockClient.converse` puts Bedrock's request id (botocore's place for it).
REQUEST_ID_KEY = "ResponseMetadata"
#: What the transport raises for a failure below HTTP (mapped by ``error_from_transport``).
_TRANSPORT_ERRORS = (aiohttp.ClientError, TransportError, OSError)
_TARGET_CACHE_LIMIT = 1024


@dataclass(frozen=True, slots=True)
class InvokeResult:
    """An InvokeModel answer: the parsed JSON body and the response headers."""

    body: dict[str, Any]
    headers: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class _Target:
    url: URL
    canonical_path: str


def host_header(host: str, port: int, *, tls: bool) -> str:
    """The Host header value: the port only when it is not the scheme's default."""
    name = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return name if port == (443 if tls else 80) else f"{name}:{port}"


class BedrockClient:
    """Converse, ConverseStream and InvokeModel over one pooled keep-alive client.

    Build it with :meth:`from_environment` (the AWS default chain) or directly, then
    ``await start()`` inside the running loop (or ``async with``) and ``await close()``.
    """

    def __init__(
        self,
        endpoint_url: str,
        region: str,
        credentials: Any,
        *,
        bearer_token: str | None = None,
        bearer_token_file: str | None = None,
        pool_size: int = 4096,
        connect_timeout: float = 5.0,
        pool_timeout: float = 0.25,
        ca_bundle: str | None = None,
        credentials_problem: str | None = None,
        resolve_credentials: bool = False,
        on_pool_wait: PoolWaitHook | None = None,
    ) -> None:
        parts = urlsplit(endpoint_url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"Bedrock endpoint must be an http(s) URL, got {endpoint_url!r}")
        self._base = f"{parts.scheme}://{parts.netloc}{parts.path}"
        self._base_path = parts.path
        tls = parts.scheme == "https"
        self._host = host_header(parts.hostname, parts.port or (443 if tls else 80), tls=tls)
        self.region = region
        self.endpoint_url = self._base
        self.ca_bundle = ca_bundle
        self._auth = Auth(
            credentials,
            bearer_token=bearer_token,
            bearer_file=bearer_token_file,
            problem=credentials_problem,
            resolver=default_resolver if resolve_credentials else None,
        )
        self._signer = SigV4Signer(region, "bedrock")
        self._targets: dict[tuple[str, str], _Target] = {}
        self._transport = Transport(
            f"{parts.scheme}://{parts.netloc}",
            limit=pool_size,
            connect_timeout=connect_timeout,
            pool_timeout=pool_timeout,
            ca_bundle=ca_bundle,
            on_pool_wait=on_pool_wait,
        )

    @classmethod
    async def from_environment(
        cls,
        *,
        pool_size: int = 4096,
        connect_timeout: float = 5.0,
        pool_timeout: float = 0.25,
        bearer_token_file: str | None = None,
        on_pool_wait: PoolWaitHook | None = None,
    ) -> BedrockClient:
        """A started client configured the standard AWS way; never fails for lack of credentials.

        Without credentials every call raises ``UpstreamAccessDeniedError`` (after resolving
        the chain again, at most every few seconds), so the gateway starts and reports it.
        """
        env = await asyncio.to_thread(resolve_environment)
        client = cls(
            env.endpoint_url,
            env.region,
            env.credentials,
            bearer_token=env.bearer_token,
            bearer_token_file=bearer_token_file,
            pool_size=pool_size,
            connect_timeout=connect_timeout,
            pool_timeout=pool_timeout,
            ca_bundle=env.ca_bundle,
            credentials_problem=env.problem,
            resolve_credentials=True,
            on_pool_wait=on_pool_wait,
        )
        await client.start()
        return client

    @property
    def has_credentials(self) -> bool:
        return self._auth.has_credentials

    async def credentials_problem(self) -> str | None:
        """Why no call can be authenticated (resolving the chain again first), or None."""
        if not self._auth.has_credentials:
            await self._auth.resolve()
        return self._auth.problem()

    async def start(self) -> None:
        """Create the connection pool (inside the running loop); idempotent."""
        await self._transport.start()

    async def close(self) -> None:
        """Close the pool and every pooled connection."""
        await self._transport.close()

    async def __aenter__(self) -> BedrockClient:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def pool_stats(self) -> dict[str, int]:
        """Requests in flight and idle connections (for tests and diagnostics)."""
        return self._transport.stats()

    async def converse(self, model_id: str, body: bytes, *, timeout: float) -> dict[str, Any]:
        """Converse: the parsed JSON answer, with ``ResponseMetadata.RequestId`` as botocore
        gives it; failures raise the mapped ``UpstreamError``."""
        response = await self._call(model_id, "converse", body, timeout, None)
        parsed = _parse_object(response.body, model_id)
        request_id = response.headers.get("x-amzn-RequestId")
        if request_id:
            parsed[REQUEST_ID_KEY] = {"RequestId": request_id}
        return parsed

    async def invoke_model(self, model_id: str, body: bytes, *, timeout: float) -> InvokeResult:
        """InvokeModel with a JSON body (embeddings): the parsed JSON answer and headers."""
        response = await self._call(model_id, "invoke", body, timeout, "application/json")
        return InvokeResult(body=_parse_object(response.body, model_id), headers=response.headers)

    async def converse_stream(
        self, model_id: str, body: bytes, *, timeout: float
    ) -> ConverseEventStream:
        """ConverseStream: returns once the status is known (a non-200 raises).

        ``timeout`` bounds the wait for the response headers and each gap between frames;
        the wait for a free connection is not part of it.
        """
        target = self._target(model_id, "converse-stream")
        for attempt in (1, 2):
            headers = await self._sign(target, body)
            try:
                stream = await self._transport.open(target.url, headers, body, read_timeout=timeout)
            except TimeoutError as exc:
                raise _timeout(model_id, timeout) from exc
            except _TRANSPORT_ERRORS as exc:
                raise error_from_transport(exc, model_id=model_id) from exc
            if stream.status == 200:
                return ConverseEventStream(stream, model_id=model_id, idle_timeout=timeout)
            raw = await _drain(stream)
            if attempt == 1 and await self._expired(stream.status, stream.headers, raw):
                continue
            raise error_from_response(stream.status, stream.headers, raw, model_id=model_id)
        raise AssertionError("unreachable")

    async def _call(
        self, model_id: str, operation: str, body: bytes, timeout: float, accept: str | None
    ) -> Response:
        """One request read to the end within ``timeout`` (after a free connection was found).

        An expired token is answered before Bedrock runs the model, so that one is sent again,
        once, with freshly resolved credentials; nothing else is re-sent.
        """
        target = self._target(model_id, operation)
        for attempt in (1, 2):
            headers = await self._sign(target, body)
            if accept is not None:
                headers["Accept"] = accept
            try:
                response = await self._transport.request(target.url, headers, body, timeout=timeout)
            except TimeoutError as exc:
                raise _timeout(model_id, timeout) from exc
            except _TRANSPORT_ERRORS as exc:
                raise error_from_transport(exc, model_id=model_id) from exc
            if response.status == 200:
                return response
            if attempt == 1 and await self._expired(
                response.status, response.headers, response.body
            ):
                continue
            raise error_from_response(
                response.status, response.headers, response.body, model_id=model_id
            )
        raise AssertionError("unreachable")

    async def _sign(self, target: _Target, body: bytes) -> dict[str, str]:
        return await self._auth.headers(self._signer, self._host, target.canonical_path, body)

    async def _expired(self, status: int, headers: Mapping[str, str], body: bytes) -> bool:
        """Whether Bedrock said the token expired and fresh credentials were found."""
        return is_expired_token(status, headers, body) and await self._auth.resolve(force=True)

    def _target(self, model_id: str, operation: str) -> _Target:
        key = (model_id, operation)
        target = self._targets.get(key)
        if target is None:
            path = f"{self._base_path}/model/{quote(model_id, safe='')}/{operation}"
            target = _Target(url=self._transport.url(path), canonical_path=canonical_uri(path))
            if len(self._targets) >= _TARGET_CACHE_LIMIT:
                self._targets.clear()
            self._targets[key] = target
        return target


async def _drain(stream: Stream) -> bytes:
    """A non-200 stream answer's body (then the connection goes back)."""
    try:
        return await stream.read()
    except _TRANSPORT_ERRORS:
        return b""
    finally:
        await stream.aclose()


def _timeout(model_id: str, timeout: float) -> UpstreamTimeoutError:
    return UpstreamTimeoutError(f"Bedrock did not answer within {timeout:g}s for model {model_id}")


def _parse_object(raw: bytes, model_id: str) -> dict[str, Any]:
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise UpstreamMalformedError(
            f"Bedrock answered model {model_id} with invalid JSON"
        ) from exc
    if not isinstance(parsed, dict):
        raise UpstreamMalformedError(f"Bedrock answered model {model_id} with a non-object JSON")
    return parsed
