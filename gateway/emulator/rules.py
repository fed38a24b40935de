"""Emulator: strict mode, Bedrock's per-model refusals from the model table (test/demo tool).

Bedrock checks the model id before the body: an id it does not know, a model past end of
life, a model the account may not use, a base id without on-demand offer in the region, and
then what the model cannot do (system prompts, tools, tools while streaming, images...).
Each refusal carries Bedrock's status, error code and text; README.md says which texts are
quoted from real answers and which are Bedrock-style wording.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from gateway.capabilities.lookup import geography_of, row_for_base, split_profile
from gateway.capabilities.model import ModelCapabilities
from gateway.emulator.errors import EmulatorError, validation_error

INVALID_MODEL = "The provided model identifier is invalid."
ON_DEMAND = (
    "Invocation of model ID {model_id} with on-demand throughput isn\u2019t supported. Retry "
    "your request with the ID or ARN of an inference profile that contains this model."
)
END_OF_LIFE = (
    "This model version has reached the end of its life. "
    "Please refer to the AWS documentation for more details."
)
NO_ACCESS = "You don't have access to the model with the specified model ID."
NO_SYSTEM = "This model doesn't support system messages."
NO_TOOLS = "This model doesn't support tool use."
NO_STREAMING_TOOLS = "This model doesn't support tool use in streaming mode."
NO_TOOL_CHOICE = (
    "This model doesn't support the toolConfig.toolChoice.{kind} field. "
    "Remove toolConfig.toolChoice.{kind} and try again."
)
NO_BLOCK = "This model doesn't support the {kind} content block that you provided."
MAX_TOKENS = (
    "The maximum tokens you requested exceeds the model limit of {limit}. "
    "Try again with a maximum tokens value that is lower than {limit}."
)
SAMPLING = (
    "The model returned the following errors: `temperature` and `top_p` cannot both be "
    "specified for this model. Please use only one."
)
NOT_CHAT = (
    "This action doesn't support the model that you provided. "
    "Try again with a supported text or chat model."
)
NO_STREAMING = "The model is unsupported for streaming."
NOT_EMBEDDING = (
    "Malformed input request: #: required key [messages] not found, "
    "please reformat your input and try again."
)
NO_CACHING = (
    "You invoked an unsupported model or your request did not allow prompt caching. "
    "See the documentation for more information."
)
TOO_MANY_POINTS = "The request has {count} cache points; this model takes at most {limit}."
NO_TIER = "The service tier {tier} is not supported for this model."
NO_LATENCY = "Latency-optimized inference is not supported for this model in {region}."
TOO_MANY_DOCUMENTS = "The request has {count} documents; at most 5 are allowed."
DOCUMENT_TEXT = (
    "The document at {path} must be accompanied by a text block in the same message content."
)
LONG_DIRECTIVE = "[emulator:long="


@dataclass(frozen=True, slots=True)
class Resolved:
    """A model id the table knows: its row and the profile geography (None: a base id)."""

    caps: ModelCapabilities
    geo: str | None


class ModelTable:
    """Rows by base id; resolves base ids, profile ids and ARNs as the capabilities lookup
    does, over any rows (tests give the emulator synthetic rows this way)."""

    def __init__(self, rows: Iterable[ModelCapabilities]) -> None:
        self.rows: tuple[ModelCapabilities, ...] = tuple(rows)
        self._by_id = {row.base_id: row for row in self.rows}

    def resolve(self, model_id: str) -> Resolved | None:
        if ":application-inference-profile/" in model_id:
            return None
        geo, base = split_profile(model_id)
        row = row_for_base(base, self._by_id)
        return None if row is None else Resolved(row, geo)


def is_end_of_life(caps: ModelCapabilities, today: date) -> bool:
    return caps.lifecycle == "eol" or (
        caps.eol_date is not None and date.fromisoformat(caps.eol_date) <= today
    )


def today_utc() -> date:
    return datetime.now(UTC).date()


def geographies_for(region: str) -> tuple[str, ...]:
    """Profile prefixes callable from a source region (its geographies, then global)."""
    return (*geography_of(region), "global")


def check_model(
    table: ModelTable,
    model_id: str,
    region: str,
    denied: Collection[str],
    today: date,
) -> ModelCapabilities:
    """The row of a callable model id, or the EmulatorError Bedrock answers for it."""
    found = table.resolve(model_id)
    if found is None:
        raise validation_error(INVALID_MODEL)
    caps = found.caps
    if is_end_of_life(caps, today):
        raise EmulatorError(404, "ResourceNotFoundException", END_OF_LIFE)
    if caps.base_id in denied:
        raise EmulatorError(403, "AccessDeniedException", NO_ACCESS)
    reachable = [geo for geo in geographies_for(region) if geo in caps.profiles]
    if found.geo is not None:
        if found.geo not in reachable:
            raise validation_error(INVALID_MODEL)
    elif region not in caps.on_demand_regions:
        if not reachable:
            raise validation_error(INVALID_MODEL)
        raise validation_error(ON_DEMAND.format(model_id=model_id))
    return caps


def check_operation(caps: ModelCapabilities, operation: str) -> None:
    """Converse on an embedding model, InvokeModel embeddings on a chat model."""
    if operation == "invoke":
        if caps.kind != "embedding":
            raise validation_error(NOT_EMBEDDING)
        return
    if caps.kind != "chat" or not caps.converse:
        raise validation_error(NOT_CHAT)
    if operation == "converse-stream" and not caps.converse_stream:
        raise validation_error(NO_STREAMING)


def check_request(
    caps: ModelCapabilities, operation: str, body: dict[str, Any], region: str = ""
) -> None:
    """What this model refuses in a (shape-valid) Converse body, in Bedrock's order."""
    if body.get("system") and not caps.system_prompt:
        raise validation_error(NO_SYSTEM)
    _check_tools(caps, operation, body.get("toolConfig"))
    _check_blocks(caps, body.get("messages") or [])
    _check_levers(caps, body, region)
    config: dict[str, Any] = body.get("inferenceConfig") or {}
    max_tokens = config.get("maxTokens")
    if max_tokens is not None and caps.max_output_tokens and max_tokens > caps.max_output_tokens:
        raise validation_error(MAX_TOKENS.format(limit=caps.max_output_tokens))
    if caps.exclusive_sampling and "temperature" in config and "topP" in config:
        raise validation_error(SAMPLING)


def _check_tools(caps: ModelCapabilities, operation: str, tool_config: Any) -> None:
    if not tool_config:
        return
    if not caps.tools:
        raise validation_error(NO_TOOLS)
    if operation == "converse-stream" and not caps.streaming_tools:
        raise validation_error(NO_STREAMING_TOOLS)
    choice = tool_config.get("toolChoice") or {}
    for kind in ("any", "tool"):
        if kind in choice and kind not in caps.tool_choice:
            raise validation_error(NO_TOOL_CHOICE.format(kind=kind))


def _check_blocks(caps: ModelCapabilities, messages: list[dict[str, Any]]) -> None:
    documents = 0
    for index, message in enumerate(messages):
        content = message.get("content") or []
        has_text = any("text" in block for block in content)
        for position, block in enumerate(content):
            if "image" in block and not caps.images:
                raise validation_error(NO_BLOCK.format(kind="image"))
            if "document" in block:
                if not caps.documents:
                    raise validation_error(NO_BLOCK.format(kind="document"))
                documents += 1
                if not has_text:
                    path = f"messages.{index}.content.{position}"
                    raise validation_error(DOCUMENT_TEXT.format(path=path))
    if documents > 5:
        raise validation_error(TOO_MANY_DOCUMENTS.format(count=documents))


def _cache_points(body: dict[str, Any]) -> int:
    blocks: list[dict[str, Any]] = [
        *((body.get("toolConfig") or {}).get("tools") or []),
        *(body.get("system") or []),
    ]
    for message in body.get("messages") or []:
        blocks.extend(message.get("content") or [])
    return sum(1 for block in blocks if "cachePoint" in block)


def _check_levers(caps: ModelCapabilities, body: dict[str, Any], region: str) -> None:
    """Cache points, service tier and latency this model does not offer."""
    points = _cache_points(body)
    if points and caps.prompt_caching is None:
        raise validation_error(NO_CACHING)
    if caps.prompt_caching is not None and points > caps.prompt_caching.max_points:
        limit = caps.prompt_caching.max_points
        raise validation_error(TOO_MANY_POINTS.format(count=points, limit=limit))
    tier = (body.get("serviceTier") or {}).get("type")
    if tier not in (None, "default") and tier not in caps.service_tiers:
        raise validation_error(NO_TIER.format(tier=tier))
    latency = (body.get("performanceConfig") or {}).get("latency")
    if latency == "optimized" and region not in caps.latency_optimized_regions:
        raise validation_error(NO_LATENCY.format(region=region))


def default_output_tokens(caps: ModelCapabilities) -> int | None:
    """What Bedrock generates at most when a request sends no maxTokens."""
    return caps.default_output_tokens or caps.max_output_tokens or None


def with_output_default(caps: ModelCapabilities, body: dict[str, Any]) -> dict[str, Any]:
    """The body the answer is generated from: the row's default maxTokens when none is sent."""
    config: dict[str, Any] = body.get("inferenceConfig") or {}
    limit = default_output_tokens(caps)
    if config.get("maxTokens") is not None or limit is None:
        return body
    return {**body, "inferenceConfig": {**config, "maxTokens": limit}}


def long_reply_tokens(text: str) -> int | None:
    """N from a ``[emulator:long=N]`` directive in the user's text (a reply of N tokens)."""
    start = text.find(LONG_DIRECTIVE)
    if start == -1:
        return None
    digits = text[start + len(LONG_DIRECTIVE) :].partition("]")[0]
    return int(digits) if digits.isdigit() and 0 < int(digits) <= 1_000_000 else None
