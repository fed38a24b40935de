"""Unit: a ConverseStream event that is not shaped as Bedrock documents it ends the stream
with a 502 naming the model (an SSE error event), never an exception out of the response."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.errors import UpstreamMalformedError
from gateway.schemas import parse_chat_request
from gateway.service.streaming import ChatSSE, _feed
from gateway.translation.openai_to_converse import prepare_conversation
from gateway.translation.stream import StreamTranslator

PLAIN = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
MODEL = "anthropic.claude-3-haiku-20240307-v1:0"


@pytest.mark.parametrize(
    "event",
    [
        ("contentBlockDelta", {"contentBlockIndex": 0, "delta": "not an object"}),
        ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": 5}}),
        ("contentBlockStart", {"contentBlockIndex": 0, "start": {"toolUse": "x"}}),
        ("metadata", {"usage": {"inputTokens": "many"}}),
    ],
)
def test_a_malformed_event_is_a_502_naming_the_model(event: tuple[str, Any]) -> None:
    prepared = prepare_conversation(parse_chat_request(PLAIN))
    translator = StreamTranslator("c", "m", 1, True, prepared)
    with pytest.raises(UpstreamMalformedError) as info:
        _feed(translator, [("messageStart", {"role": "assistant"}), event], None, MODEL, ChatSSE())
    assert info.value.status == 502 and MODEL in info.value.message


def test_a_well_formed_event_passes() -> None:
    prepared = prepare_conversation(parse_chat_request(PLAIN))
    translator = StreamTranslator("c", "m", 1, False, prepared)
    event = ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "a"}})
    assert b"data: " in _feed(translator, [event], None, MODEL, ChatSSE())
