"""Providers: region, endpoint, CA bundle and credentials, resolved the way AWS SDKs do.

Blocking (botocore reads files and may call the metadata services): run it in a thread.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError

SERVICE = "bedrock-runtime"


@dataclass(frozen=True, slots=True)
class AwsEnvironment:
    endpoint_url: str
    region: str
    ca_bundle: str | None
    credentials: Any
    bearer_token: str | None
    problem: str | None


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes")


def _session() -> Any:
    import botocore.session

    return botocore.session.Session()


def configured_endpoint(env: Mapping[str, str], scoped: Mapping[str, Any]) -> str | None:
    """An explicit endpoint (``AWS_ENDPOINT_URL_BEDROCK_RUNTIME`` first), unless ignored."""
    if _truthy(env.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")):
        return None
    return (
        env.get("AWS_ENDPOINT_URL_BEDROCK_RUNTIME")
        or env.get("AWS_ENDPOINT_URL")
        or scoped.get("endpoint_url")
        or None
    )


def resolved_endpoint(session: Any, region: str) -> str:
    """botocore's own answer for bedrock-runtime: the service's endpoint rule set evaluated by
    botocore's provider, with the region, FIPS and dual-stack settings as a client reads them
    (partitions: GovCloud, China). Not through ``create_client``: a client loads the whole
    service model and its machinery (~3.6 MB kept by the process) for one URL."""
    from botocore.endpoint_provider import EndpointProvider
    from botocore.utils import ensure_boolean, validate_region_name

    validate_region_name(region)  # as create_client does: no URL for a malformed region
    loader = session.get_component("data_loader")
    provider = EndpointProvider(
        loader.load_service_model(SERVICE, "endpoint-rule-set-1"), loader.load_data("partitions")
    )
    endpoint = provider.resolve_endpoint(
        Region=region,
        UseFIPS=ensure_boolean(session.get_config_variable("use_fips_endpoint") or False),
        UseDualStack=ensure_boolean(session.get_config_variable("use_dualstack_endpoint") or False),
    )
    return str(endpoint.url)


def resolve_region(session: Any) -> tuple[str, dict[str, Any], str | None]:
    """The region (``AWS_REGION`` first), the profile's section and any profile problem."""
    env = os.environ
    problem: str | None = None
    try:
        profile_region = session.get_config_variable("region")
        scoped = dict(session.get_scoped_config())
    except BotoCoreError as exc:
        profile_region, scoped, problem = None, {}, f"{type(exc).__name__}: {exc}"
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or profile_region
    return region or "us-east-1", scoped, problem


def region_problem(region: str) -> str | None:
    """Why botocore would refuse ``region`` (a malformed name), or None."""
    from botocore.utils import validate_region_name

    try:
        validate_region_name(region)
    except BotoCoreError as exc:
        return f"{exc} Set AWS_REGION (or AWS_DEFAULT_REGION, or the profile's region)."
    return None


def policy_region() -> str:
    """The region policies are compiled for (which inference profile a model needs), read
    the way the client will read it: ``AWS_REGION``, ``AWS_DEFAULT_REGION``, the profile."""
    return resolve_region(_session())[0]


def resolve_credentials(session: Any | None = None) -> tuple[Any, str | None]:
    """botocore's default chain: credentials or None, and why not (blocking)."""
    session = session if session is not None else _session()
    try:
        return session.get_credentials(), None
    except BotoCoreError as exc:
        return None, f"{type(exc).__name__}: {str(exc)[:300]}"


def resolve_environment() -> AwsEnvironment:
    """Everything the Bedrock client needs from the AWS configuration (blocking)."""
    session = _session()
    region, scoped, problem = resolve_region(session)
    endpoint = configured_endpoint(os.environ, scoped)
    if endpoint is None:
        endpoint = resolved_endpoint(session, region)
    ca_bundle = None
    if problem is None:
        ca_bundle = session.get_config_variable("ca_bundle") or None
    bearer = os.environ.get("AWS_BEARER_TOKEN_BEDROCK") or None
    credentials = None
    if bearer is None and problem is None:
        credentials, problem = resolve_credentials(session)
    return AwsEnvironment(endpoint, region, ca_bundle, credentials, bearer, problem)
