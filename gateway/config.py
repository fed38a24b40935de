"""Configuration: the gateway's settings, read from ``GATEWAY_*`` environment variables once."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIB = 1024 * 1024
#: The Redis URL schemes that speak TLS (the only ones a CA file applies to).
REDIS_TLS_SCHEMES = ("rediss", "rediss+cluster")


def sha256_hex(value: str) -> str:
    """The hash under which client keys are stored and compared (never the key itself)."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def settings_errors(exc: ValidationError) -> str:
    """Why the environment is refused, each reason naming its variable but never showing a
    value (pydantic's own text shows the inputs, and a value may be a key or a password)."""
    reasons = []
    for error in exc.errors(include_input=False, include_url=False):
        names = "_".join(str(part) for part in error["loc"]).upper()
        reasons.append(f"GATEWAY_{names}: {error['msg']}" if names else error["msg"])
    return "; ".join(reasons)


class Settings(BaseSettings):
    """Everything the operator sets. AWS comes from botocore's own chain, not from here."""

    model_config = SettingsConfigDict(
        env_prefix="GATEWAY_", env_nested_delimiter="__", extra="ignore", frozen=True
    )

    policies: Path = Path("policies")
    redis_url: SecretStr | None = None
    redis_username: str | None = Field(
        default=None, description="ACL user (ElastiCache RBAC, MemoryDB); with redis_password"
    )
    redis_password: SecretStr | None = Field(
        default=None, description="AUTH password or token, kept out of the URL (e.g. a Secret)"
    )
    redis_ca_file: str = Field(
        default="", description="PEM CA bundle that verifies a rediss:// server; empty: system CAs"
    )
    api_keys: SecretStr = Field(default=SecretStr(""), description="comma-separated client keys")
    admin_key: SecretStr | None = None
    log_format: Literal["json", "text"] = "text"
    log_level: str = "INFO"
    log_prompts: bool = False
    max_body_bytes: int = Field(default=32 * MIB, ge=1024)
    max_header_bytes: int = Field(
        default=64 * 1024, ge=4096, description="request line and headers; over it: 400, closed"
    )
    max_headers: int = Field(default=100, ge=16, description="header lines per request")
    header_timeout_s: float = Field(
        default=10.0, gt=0, description="from connection (or last answer) to a complete head"
    )
    body_timeout_s: float = Field(default=60.0, gt=0, description="from head to complete body")
    max_messages: int = Field(default=10_000, ge=1, description="chat messages per request")
    max_content_parts: int = Field(
        default=20_000, ge=1, description="content parts of all messages of one request"
    )
    max_tools: int = Field(default=512, ge=1, description="tools per request")
    metrics_key: SecretStr | None = Field(
        default=None, description="when set, GET /metrics needs 'Authorization: Bearer <key>'"
    )
    metrics_port: int | None = Field(
        default=None, ge=1, le=65535, description="serve /metrics on this port only"
    )
    metrics_tenant_labels: bool = Field(
        default=True, description="off: tenant labels read '_all' (names stay off /metrics)"
    )
    allow_image_urls: bool = False
    cors_origins: str = ""
    upstream_pool_size: int = Field(
        default=4096,
        ge=1,
        description="Bedrock requests in flight at once per worker (streams included); a "
        "stream costs about 40 KB, so a full default pool (~160 MB) fits the chart's 512 Mi",
    )
    upstream_connect_timeout_s: float = Field(default=5.0, gt=0)
    upstream_pool_timeout_s: float = Field(
        default=0.25,
        gt=0,
        description="wait for a free upstream slot before a 503 with retry-after; brief: a "
        "slot of a full pool frees when a stream ends, seconds away",
    )
    bearer_token_file: str = Field(
        default="", description="a file holding a Bedrock API key, re-read on change; empty: none"
    )
    redis_timeout_s: float = Field(default=0.25, gt=0)
    redis_retry_s: float = Field(default=5.0, gt=0, description="pause before retrying Redis")
    responses_ttl_s: int = Field(
        default=30 * 86400, ge=1, description="how long a stored /v1/responses answer is kept"
    )
    shadow_keep_answers: int = Field(
        default=0, ge=0, description="debug: keep the last N shadow answer pairs in memory"
    )
    discovery: Literal["auto", "on", "off"] = Field(
        default="auto",
        description="region discovery (ListFoundationModels/ListInferenceProfiles); auto: on "
        "when Bedrock Runtime is AWS's own endpoint",
    )
    discovery_interval_s: float = Field(
        default=300.0, ge=0, description="seconds between discoveries; 0 turns discovery off"
    )
    discovery_timeout_s: float = Field(default=10.0, gt=0, description="per control-plane call")
    demo: bool = False

    @model_validator(mode="after")
    def _redis_parts_fit_the_url(self) -> Settings:
        """The Redis credentials and CA kept beside the URL must fit it, or start fails."""
        url = self.redis_url.get_secret_value() if self.redis_url is not None else ""
        extras = {
            "GATEWAY_REDIS_USERNAME": self.redis_username,
            "GATEWAY_REDIS_PASSWORD": self.redis_password,
            "GATEWAY_REDIS_CA_FILE": self.redis_ca_file,
        }
        given = [name for name, value in extras.items() if value]
        if given and not url:
            raise ValueError(f"{', '.join(given)} set without GATEWAY_REDIS_URL")
        if not url:
            return self
        parts = urlsplit(url)
        if self.redis_password and (parts.password or parts.username):
            raise ValueError(
                "GATEWAY_REDIS_PASSWORD is set and GATEWAY_REDIS_URL carries credentials too:"
                " keep them in one place"
            )
        if self.redis_username and not self.redis_password:
            raise ValueError("GATEWAY_REDIS_USERNAME needs GATEWAY_REDIS_PASSWORD")
        if self.redis_ca_file and parts.scheme not in REDIS_TLS_SCHEMES:
            raise ValueError(
                "GATEWAY_REDIS_CA_FILE needs a TLS URL (rediss:// or rediss+cluster://)"
            )
        return self

    def api_key_hashes(self) -> frozenset[str]:
        """SHA-256 of every configured client key of the default tenant."""
        raw = self.api_keys.get_secret_value()
        return frozenset(sha256_hex(k.strip()) for k in raw.split(",") if k.strip())

    def admin_key_hash(self) -> str | None:
        if self.admin_key is None or not self.admin_key.get_secret_value():
            return None
        return sha256_hex(self.admin_key.get_secret_value())

    def metrics_key_hash(self) -> str | None:
        if self.metrics_key is None or not self.metrics_key.get_secret_value():
            return None
        return sha256_hex(self.metrics_key.get_secret_value())

    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]
