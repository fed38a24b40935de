"""Schemas (HTTP edge): the one place that says which OpenAI parameters Bedrock can honour."""

from __future__ import annotations

from gateway.errors import InvalidRequestError, UnsupportedParameterError
from gateway.schemas.chat import (
    ChatCompletionRequest,
    InputAudioPart,
    NamedToolChoice,
    UserMessage,
)

IGNORED_FIELDS: tuple[str, ...] = (
    "user",
    "metadata",
    "store",
    "safety_identifier",
    "parallel_tool_calls",
    "verbosity",
    "stream_options.include_obfuscation",
    "seed",  # kept for the cache key, never sent to Bedrock
)
"""Accepted and ignored: Bedrock has no equivalent and ignoring them changes no answer's shape.
(``service_tier`` becomes Bedrock's ``serviceTier``; ``prompt_cache_key`` scopes the
prompt-cache estimate: see ``routing.levers`` and ``cache.prefixes``.)"""

REFUSED_FIELDS: tuple[str, ...] = (
    "n (> 1)",
    "logprobs (true)",
    "top_logprobs (> 0)",
    "audio",
    "modalities (containing 'audio')",
    "logit_bias (non-empty)",
    "prediction",
    "web_search_options",
    "frequency_penalty (non-zero)",
    "presence_penalty (non-zero)",
    "input_audio content parts, file parts by file_id",
)
"""Refused with a 400 ``unsupported_parameter`` naming the field: Bedrock cannot honour them."""


def _refuse(param: str, what: str) -> UnsupportedParameterError:
    detail = f" {what}" if what else ""
    return UnsupportedParameterError(
        f"Unsupported parameter: '{param}'{detail} is not supported by this gateway "
        "(Amazon Bedrock has no equivalent).",
        param=param,
    )


def check_supported(req: ChatCompletionRequest) -> None:
    """Refuse what Bedrock cannot serve faithfully; everything else is served or ignored."""
    if req.n is not None and req.n > 1:
        raise _refuse("n", "greater than 1")
    if req.logprobs:
        raise _refuse("logprobs", "set to true")
    if req.top_logprobs:
        raise _refuse("top_logprobs", "")
    if req.audio is not None:
        raise _refuse("audio", "output")
    if req.modalities is not None and "audio" in req.modalities:
        raise _refuse("modalities", "containing 'audio'")
    if req.logit_bias:
        raise _refuse("logit_bias", "")
    if req.prediction is not None:
        raise _refuse("prediction", "")
    if req.web_search_options is not None:
        raise _refuse("web_search_options", "")
    if req.frequency_penalty:
        raise _refuse("frequency_penalty", "other than 0")
    if req.presence_penalty:
        raise _refuse("presence_penalty", "other than 0")
    _check_parts(req)
    _check_tool_choice(req)


def _check_parts(req: ChatCompletionRequest) -> None:
    for i, msg in enumerate(req.messages):
        if not isinstance(msg, UserMessage) or isinstance(msg.content, str):
            continue
        for j, part in enumerate(msg.content):
            if isinstance(part, InputAudioPart):
                raise UnsupportedParameterError(
                    f"Content parts of type '{part.type}' are not supported by this gateway "
                    "(Amazon Bedrock chat takes text, images and documents).",
                    param=f"messages[{i}].content[{j}]",
                )


def _check_tool_choice(req: ChatCompletionRequest) -> None:
    choice = req.tool_choice
    if choice is None or choice in ("none", "auto"):
        return
    if not req.tools:
        raise InvalidRequestError(
            "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' "
            "are specified.",
            param="tool_choice",
        )
    if isinstance(choice, NamedToolChoice):
        name = choice.function.name
        if all(t.function.name != name for t in req.tools):
            raise InvalidRequestError(
                "Invalid value for 'tool_choice': the named function is not in 'tools'.",
                param="tool_choice",
            )
