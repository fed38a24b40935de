"""Providers: the async Bedrock Runtime client (pooled aiohttp transport, SigV4 or bearer auth)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
import orjson
from botocore.exceptions import BotoCoreError, ClientError
from yarl import URL

from gateway.errors import UpstreamAccessDeniedError, UpstreamServerError, UpstreamTimeoutError
from gateway.providers.bedrock_errors import error_from_response, error_from_transport
from gateway.providers.event_stream import ConverseEventStream
from gateway.providers.signing import CredentialSource, SigV4Signer, canonical_uri

__all__ = ["BedrockClient", "ConverseEventStream", "InvokeResult"]

_JSON = "application/json"
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
    url: URL
    canonical_path: str


@dataclass(frozen=True, slots=True)
class _Environment:
    endpoint_url: str
    region: str
    credentials: Any
    bearer_token: str | None
    problem: str | None


class BedrockClient:
    """Converse, ConverseStream and InvokeModel over one pooled aiohttp session.

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
        default_port = 443 if parts.scheme == "https" else 80
        host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
        self._host = host if parts.port in (None, default_port) else f"{host}:{parts.port}"
        self.region = region
        self.endpoint_url = self._base
        self._bearer = bearer_token
        self._credentials = CredentialSource(credentials) if credentials is not None else None
        self._problem = credentials_problem
        self._signer = SigV4Signer(region, "bedrock")
        self._pool_size = pool_size
        self._connect_timeout = connect_timeout
        self._targets: dict[tuple[str, str], _Target] = {}
        self._session: aiohttp.ClientSession | None = None
        self._connector: aiohttp.TCPConnector | None = None

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
        """Create the pooled session (inside the running loop); idempotent."""
        if self._session is not None:
            return
        self._connector = aiohttp.TCPConnector(
            limit=self._pool_size,
            limit_per_host=0,
            keepalive_timeout=_KEEPALIVE_S,
            enable_cleanup_closed=True,
        )
        self._session = aiohttp.ClientSession(
            connector=self._connector,
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=self._connect_timeout),
            auto_decompress=True,
        )

    async def close(self) -> None:
        """Close the session and every pooled connection."""
        session, self._session, self._connector = self._session, None, None
        if session is not None:
            await session.close()

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
        connector = self._connector
        if connector is None:
            return {"in_use": 0, "idle": 0, "limit": self._pool_size}
        acquired = getattr(connector, "_acquired", ())
        idle = getattr(connector, "_conns", {})
        return {
            "in_use": len(acquired),
            "idle": sum(len(conns) for conns in idle.values()),
            "limit": connector.limit,
        }

    async def converse(self, model_id: str, body: bytes, *, timeout: float) -> dict[str, Any]:
        """Converse: the parsed JSON answer; failures raise the mapped ``UpstreamError``."""
        status, headers, raw = await self._call(model_id, "converse", body, timeout, None)
        if status != 200:
            raise error_from_response(status, headers, raw, model_id=model_id)
        return _parse_object(raw, model_id)

    async def invoke_model(self, model_id: str, body: bytes, *, timeout: float) -> InvokeResult:
        """InvokeModel with a JSON body (embeddings): the parsed JSON answer and headers."""
        status, headers, raw = await self._call(model_id, "invoke", body, timeout, _JSON)
        if status != 200:
            raise error_from_response(status, headers, raw, model_id=model_id)
        return InvokeResult(body=_parse_object(raw, model_id), headers=headers)

    async def converse_stream(
        self, model_id: str, body: bytes, *, timeout: float
    ) -> ConverseEventStream:
        """ConverseStream: returns once the status is known (a non-200 raises).

        ``timeout`` bounds the wait for the response headers and each gap between frames.
        """
        response = await self._open(model_id, "converse-stream", body, timeout, None)
        if response.status == 200:
            return ConverseEventStream(response, model_id=model_id, idle_timeout=timeout)
        try:
            async with asyncio.timeout(timeout):
                raw = await response.read()
        except TimeoutError as exc:
            raise _timeout(model_id, timeout) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise error_from_transport(exc, model_id=model_id) from exc
        finally:
            response.release()
        raise error_from_response(response.status, response.headers, raw, model_id=model_id)

    async def _call(
        self, model_id: str, operation: str, body: bytes, timeout: float, accept: str | None
    ) -> tuple[int, Mapping[str, str], bytes]:
        """One request read to the end within ``timeout``: status, headers, body."""
        session = self._require_session()
        target = self._target(model_id, operation)
        headers = await self._headers(target, body, accept)
        try:
            async with asyncio.timeout(timeout):
                async with session.post(target.url, data=body, headers=headers) as response:
                    raw = await response.read()
                    return response.status, response.headers, raw
        except TimeoutError as exc:
            raise _timeout(model_id, timeout) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise error_from_transport(exc, model_id=model_id) from exc

    async def _open(
        self, model_id: str, operation: str, body: bytes, timeout: float, accept: str | None
    ) -> aiohttp.ClientResponse:
        """Send a request and return the response once its headers arrived."""
        session = self._require_session()
        target = self._target(model_id, operation)
        headers = await self._headers(target, body, accept)
        try:
            async with asyncio.timeout(timeout):
                return await session.post(target.url, data=body, headers=headers)
        except TimeoutError as exc:
            raise _timeout(model_id, timeout) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise error_from_transport(exc, model_id=model_id) from exc

    def _require_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("BedrockClient is not started: await client.start() first")
        return self._session

    def _target(self, model_id: str, operation: str) -> _Target:
        key = (model_id, operation)
        target = self._targets.get(key)
        if target is None:
            path = f"{self._base_path}/model/{quote(model_id, safe='')}/{operation}"
            target = _Target(
                url=URL(f"{self._base}/model/{quote(model_id, safe='')}/{operation}", encoded=True),
                canonical_path=canonical_uri(path),
            )
            if len(self._targets) >= _TARGET_CACHE_LIMIT:
                self._targets.clear()
            self._targets[key] = target
        return target

    async def _headers(self, target: _Target, body: bytes, accept: str | None) -> dict[str, str]:
        if self._bearer is not None:
            headers = {"Content-Type": _JSON, "Authorization": f"Bearer {self._bearer}"}
        elif self._credentials is not None:
            try:
                creds = await self._credentials.get()
            except (BotoCoreError, ClientError) as exc:
                raise UpstreamAccessDeniedError(
                    f"AWS credentials could not be loaded ({type(exc).__name__}): {str(exc)[:300]}"
                ) from exc
            headers = self._signer.sign(
                host=self._host, canonical_path=target.canonical_path, body=body, credentials=creds
            )
        else:
            detail = f" ({self._problem})" if self._problem else ""
            raise UpstreamAccessDeniedError(_NO_CREDENTIALS + detail)
        headers["Host"] = self._host
        if accept is not None:
            headers["Accept"] = accept
        return headers


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
