"""Providers: the gateway's Bedrock credentials, which may appear, expire or rotate after start.

A pod may start before its IRSA token or Pod Identity agent is ready, so an empty chain is
resolved again (at most every ``RETRY_S`` seconds) instead of failing until a restart; when
Bedrock says the token expired the chain is resolved once more. A Bedrock API key comes from
``AWS_BEARER_TOKEN_BEDROCK`` (read at start) or from a mounted file, re-read when it changes.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from time import monotonic
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from gateway.errors import UpstreamAccessDeniedError
from gateway.providers.aws_config import resolve_credentials
from gateway.providers.signing import CredentialSource, SigV4Signer

#: The least time between two resolutions of an empty chain.
RETRY_S = 5.0
#: How often a bearer-token file is checked for a change.
FILE_CHECK_S = 1.0
NO_CREDENTIALS = (
    "No AWS credentials found: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, "
    "a web identity or instance role, AWS_BEARER_TOKEN_BEDROCK or GATEWAY_BEARER_TOKEN_FILE"
)

Resolver = Callable[[], tuple[Any, str | None]]


class BearerFile:
    """A Bedrock API key in a file (a mounted secret), re-read when its mtime or size changes."""

    __slots__ = ("_check_at", "_path", "_stamp", "token")

    def __init__(self, path: str) -> None:
        self._path = path
        self._stamp: tuple[int, int] | None = None
        self._check_at = 0.0
        self.token: str | None = None

    def current(self) -> str | None:
        now = monotonic()
        if now >= self._check_at:
            self._check_at = now + FILE_CHECK_S
            self.reload()
        return self.token

    def reload(self) -> None:
        try:
            stat = os.stat(self._path)
        except OSError:
            self._stamp, self.token = None, None
            return
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp == self._stamp:
            return
        try:
            with open(self._path, encoding="utf-8") as handle:
                text = handle.read().strip()
        except OSError:
            return
        self._stamp, self.token = stamp, text or None


class Auth:
    """Headers that authenticate one Bedrock request: a bearer key or a SigV4 signature."""

    def __init__(
        self,
        credentials: Any,
        *,
        bearer_token: str | None = None,
        bearer_file: str | None = None,
        problem: str | None = None,
        resolver: Resolver | None = None,
    ) -> None:
        self._source = CredentialSource(credentials) if credentials is not None else None
        self._bearer = bearer_token
        self._file = BearerFile(bearer_file) if bearer_file else None
        if self._file is not None:
            self._file.reload()
        self._problem = problem
        self._resolver = resolver
        self._resolve_at = 0.0 if resolver is not None else float("inf")
        self._lock: asyncio.Lock | None = None

    @property
    def has_credentials(self) -> bool:
        return self._bearer_token() is not None or self._source is not None

    def problem(self) -> str | None:
        """Why no request can be authenticated now, or None."""
        if self.has_credentials:
            return None
        detail = f" ({self._problem})" if self._problem else ""
        return NO_CREDENTIALS + detail

    def _bearer_token(self) -> str | None:
        if self._file is not None:
            return self._file.current()
        return self._bearer

    async def headers(
        self, signer: SigV4Signer, host: str, canonical_path: str, body: bytes
    ) -> dict[str, str]:
        """Content-Type plus the auth headers; raises ``UpstreamAccessDeniedError`` without any."""
        token = self._bearer_token()
        if token is not None:
            return {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        source = self._source
        if source is None:
            await self.resolve()
            source = self._source
            if source is None:
                raise UpstreamAccessDeniedError(self.problem() or NO_CREDENTIALS)
        try:
            creds = await source.get()
        except (BotoCoreError, ClientError) as exc:
            raise UpstreamAccessDeniedError(
                f"AWS credentials could not be loaded ({type(exc).__name__}): {str(exc)[:300]}"
            ) from exc
        return signer.headers(
            host=host, canonical_path=canonical_path, body=body, credentials=creds
        )

    async def resolve(self, *, force: bool = False) -> bool:
        """Run the default chain again (in a thread), rate-limited unless ``force``."""
        if self._file is not None:
            self._file.reload()
            return self._file.token is not None
        if self._resolver is None or self._bearer is not None:
            return self.has_credentials
        if not force and monotonic() < self._resolve_at:
            return self._source is not None
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if not force and monotonic() < self._resolve_at:
                return self._source is not None
            credentials, problem = await asyncio.to_thread(self._resolver)
            self._resolve_at = monotonic() + RETRY_S
            if credentials is not None:
                self._source, self._problem = CredentialSource(credentials), None
            elif self._source is None:
                self._problem = problem
            return credentials is not None


def default_resolver() -> tuple[Any, str | None]:
    """The AWS default credential chain, from a fresh botocore session."""
    return resolve_credentials()
