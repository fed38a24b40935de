"""Schemas (HTTP edge): caps on the counts a chat or Responses body may hold, checked before
validation (one implementation for both: Responses items are held to chat's message caps).

pydantic validates every element it is given, so a 30 MB body of 900,000 tiny messages costs
tens of seconds of the event loop and gigabytes before any rule could refuse it. The caps
here are checked first: on the raw bytes where a cheap upper bound exists, then on the
decoded JSON with ``len`` only, before a single element is validated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.errors import InvalidRequestError

# A JSON string never holds an unescaped quote, so every occurrence of this token is a key
# or a whole string value: the count is an upper bound of the messages (escapes such as
# "\u0072ole" are caught by the exact count after decoding).
_ROLE_TOKEN = b'"role"'
#: OpenAI's own limit on one message's text (``string too long ... maximum length 10485760``).
MAX_TEXT_CHARS = 10_485_760


@dataclass(frozen=True, slots=True)
class RequestBounds:
    """The caps (settings ``GATEWAY_MAX_MESSAGES``, ``_MAX_CONTENT_PARTS``, ``_MAX_TOOLS``)."""

    max_messages: int = 10_000
    max_content_parts: int = 20_000
    max_tools: int = 512


def check_chat_bytes(raw: bytes, bounds: RequestBounds, field: str = "messages") -> None:
    """Refuse a body whose raw bytes alone show more messages than allowed (before decoding).
    ``field``: ``input`` for a Responses body, whose message items carry ``role`` too."""
    if raw.count(_ROLE_TOKEN) > bounds.max_messages:
        raise InvalidRequestError(
            f"Invalid '{field}': array too long. Expected an array with maximum length "
            f"{bounds.max_messages}, but the body holds more messages than that.",
            param=field,
        )


@dataclass(frozen=True, slots=True)
class _Conversation:
    """Where a body keeps its turns: the list ``field``, and in each turn the keys holding a
    string or a list of content parts (the same caps apply to chat and Responses)."""

    field: str
    noun: str
    keys: tuple[str, ...]


_CHAT = _Conversation("messages", "the messages hold", ("content",))
# Responses: message items keep parts in ``content``, function_call_output items in ``output``.
_RESPONSES = _Conversation("input", "the items hold", ("content", "output"))


def check_chat_counts(body: Mapping[str, Any], bounds: RequestBounds) -> None:
    """Refuse too many messages, content parts (all messages together), a text too long, or
    too many tools."""
    _check_conversation(_CHAT, body.get("messages"), bounds)
    for field in ("tools", "functions"):
        _check_length(field, body.get(field), bounds.max_tools)


def check_responses_counts(body: Mapping[str, Any], bounds: RequestBounds) -> None:
    """A Responses body's caps, chat's: ``input`` items as messages, their content parts
    and texts (``instructions`` and a string ``input`` are one message's text), tools."""
    for field in ("instructions", "input"):
        _check_text(field, body.get(field))
    _check_conversation(_RESPONSES, body.get("input"), bounds)
    _check_length("tools", body.get("tools"), bounds.max_tools)


def _check_conversation(where: _Conversation, turns: Any, bounds: RequestBounds) -> None:
    if not isinstance(turns, list):
        return  # a string (Responses) or a wrong shape, which pydantic refuses
    _check_length(where.field, turns, bounds.max_messages)
    parts = 0
    for index, turn in enumerate(turns):
        if not isinstance(turn, dict):
            continue
        for key in where.keys:
            value = turn.get(key)
            if isinstance(value, list):
                parts += len(value)
                for number, part in enumerate(value):
                    text = part.get("text") if isinstance(part, dict) else None
                    if isinstance(text, str) and len(text) > MAX_TEXT_CHARS:
                        raise _too_long(f"{where.field}[{index}].{key}[{number}].text", text)
            elif isinstance(value, str) and len(value) > MAX_TEXT_CHARS:
                raise _too_long(f"{where.field}[{index}].{key}", value)
    if parts > bounds.max_content_parts:
        raise InvalidRequestError(
            f"Invalid '{where.field}': {where.noun} {parts} content parts together; at most "
            f"{bounds.max_content_parts} are accepted.",
            param=where.field,
        )


def _check_text(field: str, text: Any) -> None:
    """One message's text is capped at OpenAI's limit; a non-string is pydantic's to refuse."""
    if isinstance(text, str) and len(text) > MAX_TEXT_CHARS:
        raise _too_long(field, text)


def _too_long(field: str, text: str) -> InvalidRequestError:
    return InvalidRequestError(
        f"Invalid '{field}': string too long. Expected a string with maximum length "
        f"{MAX_TEXT_CHARS}, but got a string with length {len(text)} instead.",
        param=field,
    )


def check_conversation_length(messages: int, bounds: RequestBounds) -> None:
    """A continued conversation (``previous_response_id``) is held to the message cap too."""
    if messages > bounds.max_messages:
        raise InvalidRequestError(
            f"Invalid 'previous_response_id': the conversation with this input holds {messages} "
            f"messages; at most {bounds.max_messages} are accepted.",
            param="previous_response_id",
        )


def _check_length(field: str, value: Any, limit: int) -> None:
    if isinstance(value, list) and len(value) > limit:
        raise InvalidRequestError(
            f"Invalid '{field}': array too long. Expected an array with maximum length {limit}, "
            f"but got an array with length {len(value)} instead.",
            param=field,
        )
