"""Emulator: SigV4 verification written from the spec (independent of botocore's signer)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Collection, Mapping
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, unquote

from multidict import CIMultiDictProxy

from gateway.emulator.errors import auth_error

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "bedrock"
MAX_SKEW = timedelta(minutes=15)
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
_KEY_CACHE_SIZE = 256

MISSING_TOKEN = "Missing Authentication Token"
INVALID_TOKEN = "The security token included in the request is invalid."
SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)


def _uri_encode(text: str) -> str:
    return quote(text, safe="-_.~")


def canonical_uri(raw_path: str) -> str:
    """Each segment of the path as received, URI-encoded again (non-S3 double encoding)."""
    return "/".join(_uri_encode(segment) for segment in raw_path.split("/")) or "/"


def canonical_query(raw_query: str) -> str:
    pairs: list[tuple[str, str]] = []
    for item in raw_query.split("&"):
        if not item:
            continue
        key, _, value = item.partition("=")
        pairs.append((_uri_encode(unquote(key)), _uri_encode(unquote(value))))
    return "&".join(f"{key}={value}" for key, value in sorted(pairs))


def canonical_headers(headers: CIMultiDictProxy[str], signed: list[str]) -> str:
    lines = []
    for name in signed:
        values = headers.getall(name, [])
        joined = ",".join(" ".join(value.split()) for value in values)
        lines.append(f"{name}:{joined}\n")
    return "".join(lines)


def _parse_authorization(header: str) -> dict[str, str]:
    algorithm, _, rest = header.partition(" ")
    if algorithm != ALGORITHM:
        raise auth_error("IncompleteSignatureException", f"Unsupported algorithm {algorithm!r}.")
    fields: dict[str, str] = {}
    for part in rest.split(","):
        key, sep, value = part.strip().partition("=")
        if sep:
            fields[key] = value
    for required in ("Credential", "SignedHeaders", "Signature"):
        if required not in fields:
            raise auth_error(
                "IncompleteSignatureException",
                f"Authorization header requires '{required}' parameter. Authorization={header}",
            )
    return fields


class SigV4Verifier:
    """Checks SigV4 and Bearer authorization of requests; caches derived signing keys."""

    def __init__(self, credentials: Mapping[str, str], bearer_tokens: Collection[str] = ()) -> None:
        self._credentials = dict(credentials)
        self._bearer = frozenset(bearer_tokens)
        self._keys: dict[tuple[str, str, str], bytes] = {}

    def signing_key(self, access_key_id: str, date: str, region: str) -> bytes:
        cache_key = (access_key_id, date, region)
        key = self._keys.get(cache_key)
        if key is None:
            secret = self._credentials[access_key_id]
            key = ("AWS4" + secret).encode("utf-8")
            for part in (date, region, SERVICE, "aws4_request"):
                key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
            if len(self._keys) >= _KEY_CACHE_SIZE:
                self._keys.clear()
            self._keys[cache_key] = key
        return key

    def verify(
        self,
        method: str,
        raw_path: str,
        headers: CIMultiDictProxy[str],
        body: bytes,
        now: datetime | None = None,
    ) -> str | None:
        """Raise an auth EmulatorError unless the request is correctly authorized; the
        region of the credential scope (None for bearer tokens)."""
        authorization = headers.get("Authorization")
        if not authorization:
            raise auth_error("MissingAuthenticationTokenException", MISSING_TOKEN)
        if authorization.startswith("Bearer "):
            if authorization[7:].strip() not in self._bearer:
                raise auth_error("UnrecognizedClientException", INVALID_TOKEN)
            return None
        fields = _parse_authorization(authorization)
        scope = fields["Credential"].split("/")
        if len(scope) != 5 or scope[4] != "aws4_request":
            raise auth_error("IncompleteSignatureException", "Credential has an invalid scope.")
        access_key_id, date, region, service, _ = scope
        if access_key_id not in self._credentials:
            raise auth_error("UnrecognizedClientException", INVALID_TOKEN)
        if service != SERVICE:
            raise auth_error(
                "InvalidSignatureException",
                f"Credential should be scoped to correct service: '{SERVICE}'.",
            )
        amz_date = self._check_date(headers, date, now)
        signed = fields["SignedHeaders"].split(";")
        self._check_signed_headers(headers, signed)
        scope_text = f"{date}/{region}/{SERVICE}/aws4_request"
        string_to_sign = _string_to_sign(
            method, raw_path, headers, body, signed, amz_date, scope_text
        )
        key = self.signing_key(access_key_id, date, region)
        expected = hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, fields["Signature"]):
            raise auth_error("InvalidSignatureException", SIGNATURE_MISMATCH)
        return region

    @staticmethod
    def _check_date(headers: CIMultiDictProxy[str], scope_date: str, now: datetime | None) -> str:
        amz_date = headers.get("X-Amz-Date", "")
        try:
            signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            raise auth_error(
                "IncompleteSignatureException",
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' "
                "header.",
            ) from None
        if amz_date[:8] != scope_date:
            raise auth_error(
                "InvalidSignatureException",
                f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
                f"from HTTP: '{scope_date}' != '{amz_date[:8]}', from '{amz_date}'.",
            )
        current = now or datetime.now(UTC)
        stamp = current.strftime("%Y%m%dT%H%M%SZ")
        if signed_at < current - MAX_SKEW:
            earliest = (current - MAX_SKEW).strftime("%Y%m%dT%H%M%SZ")
            raise auth_error(
                "InvalidSignatureException",
                f"Signature expired: {amz_date} is now earlier than {earliest} ({stamp} - 15 min.)",
            )
        if signed_at > current + MAX_SKEW:
            latest = (current + MAX_SKEW).strftime("%Y%m%dT%H%M%SZ")
            raise auth_error(
                "InvalidSignatureException",
                f"Signature not yet current: {amz_date} is still later than {latest} "
                f"({stamp} + 15 min.)",
            )
        return amz_date

    @staticmethod
    def _check_signed_headers(headers: CIMultiDictProxy[str], signed: list[str]) -> None:
        required = ["host"]
        if "X-Amz-Security-Token" in headers:
            required.append("x-amz-security-token")
        for name in required:
            if name not in signed:
                raise auth_error("InvalidSignatureException", SIGNATURE_MISMATCH)


def _string_to_sign(
    method: str,
    raw_path: str,
    headers: CIMultiDictProxy[str],
    body: bytes,
    signed: list[str],
    amz_date: str,
    scope: str,
) -> str:
    path, _, query = raw_path.partition("?")
    body_hash = hashlib.sha256(body).hexdigest()
    payload_hash = headers.get("x-amz-content-sha256") or body_hash
    if payload_hash not in (body_hash, UNSIGNED_PAYLOAD):
        raise auth_error("InvalidSignatureException", SIGNATURE_MISMATCH)
    canonical = "\n".join(
        (
            method,
            canonical_uri(path),
            canonical_query(query),
            canonical_headers(headers, signed),
            ";".join(signed),
            payload_hash,
        )
    )
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}"
