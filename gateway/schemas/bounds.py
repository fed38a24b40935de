"""Schemas (HTTP edge): caps on the counts a chat body may hold, checked before validation.

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


def check_chat_counts(body: Mapping[str, Any], bounds: RequestBounds) -> None:
    """Refuse too many messages, content parts (all messages together) or tools."""
    messages = body.get("messages")
    if isinstance(messages, list):
        _check_length("messages", messages, bounds.max_messages)
        parts = 0
        for index, message in enumerate(messages):
            content = message.get("content") if isinstance(message, dict) else None
            if isinstance(content, list):
                parts += len(content)
                _check_texts(index, content)
            elif isinstance(content, str):
                _check_text(f"messages[{index}].content", content)
        if parts > bounds.max_content_parts:
            raise InvalidRequestError(
                f"Invalid 'messages': the messages hold {parts} content parts together; at "
                f"most {bounds.max_content_parts} are accepted.",
                param="messages",
            )
    for field in ("tools", "functions"):
        value = body.get(field)
        if isinstance(value, list):
            _check_length(field, value, bounds.max_tools)


def _check_texts(index: int, parts: list[Any]) -> None:
    for number, part in enumerate(parts):
        text = part.get("text") if isinstance(part, dict) else None
        if isinstance(text, str):
            _check_text(f"messages[{index}].content[{number}].text", text)


def _check_text(field: str, text: str) -> None:
    if len(text) > MAX_TEXT_CHARS:
        raise InvalidRequestError(
            f"Invalid '{field}': string too long. Expected a string with maximum length "
            f"{MAX_TEXT_CHARS}, but got a string with length {len(text)} instead.",
            param=field,
        )


def check_responses_counts(body: Mapping[str, Any], bounds: RequestBounds) -> None:
    """A Responses body's caps: ``input`` items as messages, their content parts, tools."""
    items = body.get("input")
    if isinstance(items, list):
        _check_length("input", items, bounds.max_messages)
        parts = 0
        for item in items:
            for key in ("content", "output"):
                value = item.get(key) if isinstance(item, dict) else None
                if isinstance(value, list):
                    parts += len(value)
        if parts > bounds.max_content_parts:
            raise InvalidRequestError(
                f"Invalid 'input': the items hold {parts} content parts together; at most "
                f"{bounds.max_content_parts} are accepted.",
                param="input",
            )
    tools = body.get("tools")
    if isinstance(tools, list):
        _check_length("tools", tools, bounds.max_tools)


def check_conversation_length(messages: int, bounds: RequestBounds) -> None:
    """A continued conversation (``previous_response_id``) is held to the message cap too."""
    if messages > bounds.max_messages:
        raise InvalidRequestError(
            f"Invalid 'previous_response_id': the conversation with this input holds {messages} "
            f"messages; at most {bounds.max_messages} are accepted.",
            param="previous_response_id",
        )


def _check_length(field: str, value: list[Any], limit: int) -> None:
    if len(value) > limit:
        raise InvalidRequestError(
            f"Invalid '{field}': array too long. Expected an array with maximum length {limit}, "
            f"but got an array with length {len(value)} instead.",
            param=field,
        )
