"""Translation (pure): ConverseStream events to OpenAI ``chat.completion.chunk`` dicts.

The openai SDK's accumulator concatenates string fields and uses ``tool_calls[].index`` as a
list position, so: the role is sent once, a tool call's id and name only in
its first chunk, and tool indexes are a 0-based counter of tool blocks, looked up by
``contentBlockIndex``. An event of the wrong shape raises ``TypeError``/``KeyError``/... (the
I/O layer answers a 502 naming the model). Exception events are not handled here: the I/O
layer turns them into a ``GatewayError`` and ``sse.sse_error``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from gateway.translation.converse_to_openai import (
    completion_dict,
    finish_reason,
    served_latency,
    served_tier,
    tool_call,
    usage,
)
from gateway.translation.prepared import PreparedConversation

Chunk = dict[str, Any]
#: USD of a final usage served at (tier, latency): the stream's real cost, in its usage chunk.
CostOf = Callable[[Mapping[str, Any], str, str], float]
_JSON_BLOCK = -1  # tool index marker: a json_schema forced-tool block, streamed as content


class StreamTranslator:
    """One per streamed response: ``feed`` each Bedrock event, send what it returns."""

    __slots__ = (
        "_base_usage",
        "_blocks",
        "_calls",
        "_cost_of",
        "_created",
        "_id",
        "_include_usage",
        "_json_tool",
        "_model",
        "_reasoning",
        "_role_sent",
        "_texts",
        "finish_reason",
        "finished",
        "latency",
        "service_tier",
        "usage",
    )

    def __init__(
        self,
        completion_id: str,
        model: str,
        created: int,
        include_usage: bool,
        prepared: PreparedConversation,
        cost_of: CostOf | None = None,
    ) -> None:
        self._id = completion_id
        self._model = model
        self._created = created
        self._include_usage = include_usage
        self._cost_of = cost_of
        self._json_tool = prepared.json_tool_name
        self._role_sent = False
        self._blocks: dict[int, int] = {}  # contentBlockIndex -> tool index (or _JSON_BLOCK)
        self._calls: list[list[str]] = []  # [id, name, *argument fragments] per tool index
        self._texts: list[str] = []
        self._reasoning: list[str] = []
        self.finished = False  # messageStop seen: the finish chunk was returned
        self.finish_reason: str | None = None
        self.usage: dict[str, Any] | None = None  # set once metadata arrived
        self.service_tier = "default"  # the tier that served, from metadata
        self.latency = "standard"  # performanceConfig.latency that served, from metadata

    @property
    def text(self) -> str:
        """The answer text so far (content deltas joined)."""
        return "".join(self._texts)

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> Chunk:
        chunk: Chunk = {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self._model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if self._include_usage:
            chunk["usage"] = None
        return chunk

    def _out(self, delta: dict[str, Any], finish: str | None = None) -> list[Chunk]:
        if self._role_sent:
            return [self._chunk(delta, finish)]
        self._role_sent = True
        return [self._chunk({"role": "assistant", "content": ""}), self._chunk(delta, finish)]

    def feed(self, event_type: str, payload: Mapping[str, Any]) -> list[Chunk]:
        """The chunks to send for one Bedrock stream event (often one, sometimes none)."""
        if event_type == "contentBlockDelta":
            return self._delta(payload)
        if event_type == "contentBlockStart":
            return self._start(payload)
        if event_type == "messageStart":
            if self._role_sent:
                return []
            self._role_sent = True
            return [self._chunk({"role": "assistant", "content": ""})]
        if event_type == "messageStop":
            reason = finish_reason(payload.get("stopReason"), tool_calls=bool(self._calls))
            self.finish_reason = reason
            self.finished = True
            return self._out({}, reason)
        if event_type == "metadata":
            self.usage = usage(payload.get("usage"))
            self.service_tier = served_tier(payload)
            self.latency = served_latency(payload)
            if not self._include_usage:
                return []
            chunk = self._chunk({})
            chunk["choices"] = []
            chunk["usage"] = self.usage
            if self._cost_of is not None:
                cost = self._cost_of(self.usage, self.service_tier, self.latency)
                chunk["usage"] = {**self.usage, "cost_usd": round(cost, 8)}
            chunk["service_tier"] = self.service_tier
            return [chunk]
        return []  # contentBlockStop and unknown events

    def _start(self, payload: Mapping[str, Any]) -> list[Chunk]:
        use = (payload.get("start") or {}).get("toolUse")
        if use is None:
            return []
        index = payload.get("contentBlockIndex", 0)
        name = use.get("name", "")
        if self._json_tool is not None and name == self._json_tool:
            self._blocks[index] = _JSON_BLOCK
            return []
        k = len(self._calls)
        self._blocks[index] = k
        tool_id = use.get("toolUseId", "")
        self._calls.append([tool_id, name])
        call = {"index": k, **tool_call(tool_id, name, "")}
        return self._out({"tool_calls": [call]})

    def _delta(self, payload: Mapping[str, Any]) -> list[Chunk]:
        delta = payload.get("delta") or {}
        text = delta.get("text")
        if text is not None:
            if not isinstance(text, str):  # the caller turns this into a 502 naming the model
                raise TypeError("contentBlockDelta text is not a string")
            if not text:
                return []
            self._texts.append(text)
            return self._out({"content": text})
        use = delta.get("toolUse")
        if use is not None:
            fragment = use.get("input") or ""
            if not isinstance(fragment, str):
                raise TypeError("contentBlockDelta toolUse.input is not a string")
            k = self._blocks.get(payload.get("contentBlockIndex", 0))
            if not fragment or k is None:
                return []
            if k == _JSON_BLOCK:
                self._texts.append(fragment)
                return self._out({"content": fragment})
            self._calls[k].append(fragment)
            return self._out({"tool_calls": [{"index": k, "function": {"arguments": fragment}}]})
        reasoning = delta.get("reasoningContent")
        if reasoning is not None and reasoning.get("text"):
            self._reasoning.append(reasoning["text"])
            return self._out({"reasoning_content": reasoning["text"]})
        return []

    def to_completion(self) -> dict[str, Any]:
        """The ``chat.completion`` equivalent of what was streamed (to fill the cache)."""
        calls = [tool_call(c[0], c[1], "".join(c[2:]) or "{}") for c in self._calls]
        message: dict[str, Any] = {
            "role": "assistant",
            "content": self.text if self._texts or not calls else None,
            "refusal": None,
        }
        if calls:
            message["tool_calls"] = calls
        if self._reasoning:
            message["reasoning_content"] = "".join(self._reasoning)
        return completion_dict(
            completion_id=self._id,
            model=self._model,
            created=self._created,
            message=message,
            finish=self.finish_reason or "stop",
            usage_dict=self.usage if self.usage is not None else usage(None),
            service_tier=self.service_tier,
        )
