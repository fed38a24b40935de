"""Providers: AWS SigV4 request signing for Bedrock Runtime, with a cached signing key."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from dataclasses import dataclass
from time import monotonic
from typing import Any
from urllib.parse import quote

_ALGORITHM = "AWS4-HMAC-SHA256"
_KEY_CACHE_LIMIT = 8
#: How often refreshable credentials are asked whether they need a refresh.
CHECK_INTERVAL_S = 5.0


@dataclass(frozen=True, slots=True)
class FrozenCredentials:
    """One consistent set of static AWS credentials."""

    access_key: str
    secret_key: str
    token: str | None = None


class CredentialSource:
    """botocore's (possibly refreshable) credentials, frozen once and served for free.

    Static credentials are frozen on first use. Refreshable ones (``refresh_needed()``) are
    re-checked at most every ``CHECK_INTERVAL_S`` seconds; a due refresh runs in a worker
    thread (one at a time), never on the event loop.
    """

    __slots__ = ("_check_at", "_credentials", "_frozen", "_lock", "_refreshable")

    def __init__(self, credentials: Any) -> None:
        self._credentials = credentials
        self._refreshable = callable(getattr(credentials, "refresh_needed", None))
        self._frozen: FrozenCredentials | None = None
        self._check_at = 0.0
        self._lock: asyncio.Lock | None = None

    async def get(self) -> FrozenCredentials:
        """Current credentials; near-free on the hot path."""
        frozen = self._frozen
        if frozen is not None and (not self._refreshable or monotonic() < self._check_at):
            return frozen
        return await self._load()

    async def _load(self) -> FrozenCredentials:
        creds = self._credentials
        if not self._refreshable:
            get_frozen = getattr(creds, "get_frozen_credentials", None)
            frozen = _freeze(get_frozen() if callable(get_frozen) else creds)
            self._frozen = frozen
            return frozen
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            current = self._frozen
            if current is not None and monotonic() < self._check_at:
                return current
            if creds.refresh_needed():
                frozen = _freeze(await asyncio.to_thread(creds.get_frozen_credentials))
            else:
                frozen = _freeze(creds.get_frozen_credentials())
            self._frozen = frozen
            self._check_at = monotonic() + CHECK_INTERVAL_S
            return frozen


def _freeze(creds: Any) -> FrozenCredentials:
    if isinstance(creds, FrozenCredentials):
        return creds
    return FrozenCredentials(str(creds.access_key), str(creds.secret_key), creds.token or None)


def canonical_uri(encoded_path: str) -> str:
    """The SigV4 canonical URI of a non-S3 service: the already-encoded path encoded again."""
    return quote(encoded_path, safe="/~")


class SigV4Signer:
    """Signs POST requests with a JSON body for one region and service.

    The derived signing key is cached per (secret key, date): botocore recomputes the four
    HMACs on every call, this does it once a day per credential set.
    """

    __slots__ = ("_date_cache", "_key_cache", "_region", "_scope_suffix", "_service")

    def __init__(self, region: str, service: str = "bedrock") -> None:
        self._region = region
        self._service = service
        self._scope_suffix = f"/{region}/{service}/aws4_request"
        self._key_cache: dict[tuple[str, str], bytes] = {}
        self._date_cache: tuple[int, str] = (-1, "")

    def signing_key(self, secret_key: str, datestamp: str) -> bytes:
        """kSigning for this (secret, date); derived once and kept."""
        cache_key = (secret_key, datestamp)
        key = self._key_cache.get(cache_key)
        if key is None:
            k_date = hmac.digest(f"AWS4{secret_key}".encode(), datestamp.encode(), "sha256")
            k_region = hmac.digest(k_date, self._region.encode(), "sha256")
            k_service = hmac.digest(k_region, self._service.encode(), "sha256")
            key = hmac.digest(k_service, b"aws4_request", "sha256")
            if len(self._key_cache) >= _KEY_CACHE_LIMIT:
                self._key_cache.clear()
            self._key_cache[cache_key] = key
        return key

    def _amz_date(self, now: float | None) -> str:
        second = int(time.time() if now is None else now)
        cached_second, cached = self._date_cache
        if cached_second == second:
            return cached
        amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(second))
        self._date_cache = (second, amz_date)
        return amz_date

    def sign(
        self,
        *,
        host: str,
        canonical_path: str,
        body: bytes,
        credentials: FrozenCredentials,
        content_type: str = "application/json",
        now: float | None = None,
    ) -> bytes:
        """:meth:`headers` as one ``Name: value\\r\\n`` block (for tests and diagnostics)."""
        headers = self.headers(
            host=host,
            canonical_path=canonical_path,
            body=body,
            credentials=credentials,
            content_type=content_type,
            now=now,
        )
        return "".join(f"{name}: {value}\r\n" for name, value in headers.items()).encode()

    def headers(
        self,
        *,
        host: str,
        canonical_path: str,
        body: bytes,
        credentials: FrozenCredentials,
        content_type: str = "application/json",
        now: float | None = None,
    ) -> dict[str, str]:
        """The headers to send with a POST: Content-Type, X-Amz-Date, Authorization
        (+ X-Amz-Security-Token).

        Host is not among them (the HTTP client writes it) but is signed: ``host`` is the Host
        header as sent (with the port when it is not the default). ``canonical_path`` is the
        result of :func:`canonical_uri` on the path as sent.
        """
        amz_date = self._amz_date(now)
        datestamp = amz_date[:8]
        token = credentials.token
        payload_hash = hashlib.sha256(body).hexdigest()
        if token:
            signed_headers = "content-type;host;x-amz-date;x-amz-security-token"
            header_block = (
                f"content-type:{content_type}\nhost:{host}\nx-amz-date:{amz_date}\n"
                f"x-amz-security-token:{token}\n"
            )
        else:
            signed_headers = "content-type;host;x-amz-date"
            header_block = f"content-type:{content_type}\nhost:{host}\nx-amz-date:{amz_date}\n"
        canonical_request = (
            f"POST\n{canonical_path}\n\n{header_block}\n{signed_headers}\n{payload_hash}"
        )
        scope = datestamp + self._scope_suffix
        string_to_sign = (
            f"{_ALGORITHM}\n{amz_date}\n{scope}\n"
            + hashlib.sha256(canonical_request.encode()).hexdigest()
        )
        key = self.signing_key(credentials.secret_key, datestamp)
        signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
        headers = {
            "Content-Type": content_type,
            "X-Amz-Date": amz_date,
            "Authorization": f"{_ALGORITHM} Credential={credentials.access_key}/{scope}, "
            f"SignedHeaders={signed_headers}, Signature={signature}",
        }
        if token:
            headers["X-Amz-Security-Token"] = token
        return headers


def parse_header_block(block: bytes) -> dict[str, str]:
    """The ``Name: value`` lines of a header block as a dict (for tests and diagnostics)."""
    lines = block.decode().split("\r\n")
    return dict(line.split(": ", 1) for line in lines if line)
