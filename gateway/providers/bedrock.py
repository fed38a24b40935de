"""Providers: the async Bedrock Runtime client (pooled HTTP/1.1 transport, SigV4 or bearer auth)."""

from __future__ import annotations

import asyncio
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlsplit

import orjson
from botocore.exceptions import BotoCoreError, ClientError

from gateway.errors import (
    UpstreamAccessDeniedError,
    UpstreamError,
    UpstreamServerError,
    UpstreamTimeoutError,
)
from gateway.providers.bedrock_errors import error_from_response, error_from_transport
from gateway.providers.event_stream import ConverseEventStream
from gateway.providers.http1 import Http1Error, Http1Pool, Http1Response, Http1Stream, host_header
from gateway.providers.signing import CredentialSource, SigV4Signer, canonical_uri

__all__ = ["BedrockClient", "ConverseEventStream", "InvokeResult"]

_JSON = "application/json"
_POST = b"POST"
_ACCEPT_JSON = b"Accept: application/json\r\n"
#: What the transport raises for a failure below HTTP (mapped by ``error_from_transport``).
_TRANSPORT_ERRORS = (Http1Error, OSError)
_TARGET_CACHE_LIMIT = 1024
_KEEPALIVE_S = 60.0
_NO_CREDENTIALS = (
    "No AWS credentials found: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, "
    "a web identity or instance role, or AWS_BEARER_TOKEN_BEDROCK"
)


@dataclass(frozen=True, slots=True)
class InvokeResult:
    """An InvokeModel answer: the parsed JSON body and the response headers."""

    body: dict[str, Any]
    headers: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class _Target:
    path: bytes
    canonical_path: str


@dataclass(frozen=True, slots=True)
class _Environment:
    endpoint_url: str
    region: str
    credentials: Any
    bearer_token: str | None
    problem: str | None


class BedrockClient:
    """Converse, ConverseStream and InvokeModel over one pooled HTTP/1.1 keep-alive client.

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
        pool_size: int = 256,
        connect_timeout: float = 5.0,
        credentials_problem: str | None = None,
    ) -> None:
        parts = urlsplit(endpoint_url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"Bedrock endpoint must be an http(s) URL, got {endpoint_url!r}")
        self._base = f"{parts.scheme}://{parts.netloc}{parts.path}"
        self._base_path = parts.path
        self._tls = parts.scheme == "https"
        self._hostname = parts.hostname
        self._port = parts.port or (443 if self._tls else 80)
        self._host = host_header(parts.hostname, self._port, tls=self._tls)
        self.region = region
        self.endpoint_url = self._base
        self._bearer = bearer_token
        self._credentials = CredentialSource(credentials) if credentials is not None else None
        self._problem = credentials_problem
        self._signer = SigV4Signer(region, "bedrock")
        self._pool_size = pool_size
        self._connect_timeout = connect_timeout
        self._targets: dict[tuple[str, str], _Target] = {}
        self._bearer_block = (
            f"Content-Type: {_JSON}\r\nAuthorization: Bearer {bearer_token}\r\n".encode()
            if bearer_token is not None
            else b""
        )
        self._pool: Http1Pool | None = None

    @classmethod
    async def from_environment(
        cls, *, pool_size: int = 256, connect_timeout: float = 5.0
    ) -> BedrockClient:
        """A started client configured the standard AWS way; never fails for lack of credentials.

        Without credentials every call raises ``UpstreamAccessDeniedError`` instead, so the
        gateway can start and report the problem.
        """
        env = await asyncio.to_thread(_resolve_environment)
        client = cls(
            env.endpoint_url,
            env.region,
            env.credentials,
            bearer_token=env.bearer_token,
            pool_size=pool_size,
            connect_timeout=connect_timeout,
            credentials_problem=env.problem,
        )
        await client.start()
        return client

    @property
    def has_credentials(self) -> bool:
        return self._bearer is not None or self._credentials is not None

    async def start(self) -> None:
        """Create the connection pool (inside the running loop); idempotent."""
        if self._pool is not None:
            return
        context = await asyncio.to_thread(ssl.create_default_context) if self._tls else None
        if self._pool is not None:
            return
        self._pool = Http1Pool(
            self._hostname,
            self._port,
            ssl=context,
            server_hostname=self._hostname if self._tls else None,
            limit=self._pool_size,
            connect_timeout=self._connect_timeout,
            idle_timeout=_KEEPALIVE_S,
        )

    async def close(self) -> None:
        """Close the pool and every pooled connection."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

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
        """Connections in use and idle in the pool (for tests and diagnostics)."""
        if self._pool is None:
            return {"in_use": 0, "idle": 0, "limit": self._pool_size}
        return self._pool.stats()

    async def converse(self, model_id: str, body: bytes, *, timeout: float) -> dict[str, Any]:
        """Converse: the parsed JSON answer; failures raise the mapped ``UpstreamError``."""
        response = await self._call(model_id, "converse", body, timeout, None)
        if response.status != 200:
            raise _error(response, model_id)
        return _parse_object(response.body, model_id)

    async def invoke_model(self, model_id: str, body: bytes, *, timeout: float) -> InvokeResult:
        """InvokeModel with a JSON body (embeddings): the parsed JSON answer and headers."""
        response = await self._call(model_id, "invoke", body, timeout, _ACCEPT_JSON)
        if response.status != 200:
            raise _error(response, model_id)
        return InvokeResult(body=_parse_object(response.body, model_id), headers=response.headers)

    async def converse_stream(
        self, model_id: str, body: bytes, *, timeout: float
    ) -> ConverseEventStream:
        """ConverseStream: returns once the status is known (a non-200 raises).

        ``timeout`` bounds the wait for the response headers and each gap between frames.
        """
        pool = self._require_pool()
        target = self._target(model_id, "converse-stream")
        headers = await self._headers(target, body, None)
        try:
            async with asyncio.timeout(timeout):
                stream = await pool.open(_POST, target.path, headers, body)
                if stream.status != 200:
                    await _raise_for_stream(stream, model_id)
        except TimeoutError as exc:
            raise _timeout(model_id, timeout) from exc
        except _TRANSPORT_ERRORS as exc:
            raise error_from_transport(exc, model_id=model_id) from exc
        return ConverseEventStream(stream, model_id=model_id, idle_timeout=timeout)

    async def _call(
        self, model_id: str, operation: str, body: bytes, timeout: float, accept: bytes | None
    ) -> Http1Response:
        """One request read to the end within ``timeout`` (one deadline for the whole call)."""
        pool = self._require_pool()
        target = self._target(model_id, operation)
        headers = await self._headers(target, body, accept)
        try:
            async with asyncio.timeout(timeout):
                return await pool.request(_POST, target.path, headers, body)
        except TimeoutError as exc:
            raise _timeout(model_id, timeout) from exc
        except _TRANSPORT_ERRORS as exc:
            raise error_from_transport(exc, model_id=model_id) from exc

    def _require_pool(self) -> Http1Pool:
        if self._pool is None:
            raise RuntimeError("BedrockClient is not started: await client.start() first")
        return self._pool

    def _target(self, model_id: str, operation: str) -> _Target:
        key = (model_id, operation)
        target = self._targets.get(key)
        if target is None:
            path = f"{self._base_path}/model/{quote(model_id, safe='')}/{operation}"
            target = _Target(path=path.encode("ascii"), canonical_path=canonical_uri(path))
            if len(self._targets) >= _TARGET_CACHE_LIMIT:
                self._targets.clear()
            self._targets[key] = target
        return target

    async def _headers(self, target: _Target, body: bytes, accept: bytes | None) -> bytes:
        """The header block (without Host and Content-Length, which the transport adds)."""
        if self._bearer is not None:
            block = self._bearer_block
        elif self._credentials is not None:
            try:
                creds = await self._credentials.get()
            except (BotoCoreError, ClientError) as exc:
                raise UpstreamAccessDeniedError(
                    f"AWS credentials could not be loaded ({type(exc).__name__}): {str(exc)[:300]}"
                ) from exc
            block = self._signer.sign(
                host=self._host, canonical_path=target.canonical_path, body=body, credentials=creds
            )
        else:
            detail = f" ({self._problem})" if self._problem else ""
            raise UpstreamAccessDeniedError(_NO_CREDENTIALS + detail)
        return block if accept is None else block + accept


async def _raise_for_stream(stream: Http1Stream, model_id: str) -> None:
    """Read a non-200 stream answer's body and raise its mapped error."""
    try:
        raw = await stream.read()
    finally:
        await stream.aclose()
    raise error_from_response(stream.status, stream.headers, raw, model_id=model_id)


def _error(response: Http1Response, model_id: str) -> UpstreamError:
    return error_from_response(response.status, response.headers, response.body, model_id=model_id)


def _timeout(model_id: str, timeout: float) -> UpstreamTimeoutError:
    return UpstreamTimeoutError(f"Bedrock did not answer within {timeout:g}s for model {model_id}")


def _parse_object(raw: bytes, model_id: str) -> dict[str, Any]:
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise UpstreamServerError(f"Bedrock answered model {model_id} with invalid JSON") from exc
    if not isinstance(parsed, dict):
        raise UpstreamServerError(f"Bedrock answered model {model_id} with a non-object JSON")
    return parsed


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes")


def _resolve_environment() -> _Environment:
    """Region, endpoint and credentials by the AWS rules (blocking: run it in a thread)."""
    import botocore.session

    env = os.environ
    session = botocore.session.Session()
    problem: str | None = None
    try:
        profile_region = session.get_config_variable("region")
        scoped = session.get_scoped_config()
    except BotoCoreError as exc:
        profile_region, scoped, problem = None, {}, f"{type(exc).__name__}: {exc}"
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or profile_region
    region = region or "us-east-1"
    endpoint = None
    if not _truthy(env.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")):
        endpoint = (
            env.get("AWS_ENDPOINT_URL_BEDROCK_RUNTIME")
            or env.get("AWS_ENDPOINT_URL")
            or scoped.get("endpoint_url")
        )
    endpoint = endpoint or f"https://bedrock-runtime.{region}.amazonaws.com"
    bearer = env.get("AWS_BEARER_TOKEN_BEDROCK") or None
    credentials = None
    if bearer is None and problem is None:
        try:
            credentials = session.get_credentials()
        except BotoCoreError as exc:
            problem = f"{type(exc).__name__}: {str(exc)[:300]}"
    return _Environment(endpoint, region, credentials, bearer, problem)
