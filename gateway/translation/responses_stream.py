"""Translation (pure): chat completion chunks to the Responses stream's events.

The chat pipeline streams ``chat.completion.chunk`` dicts; this turns them into the event
sequence the openai SDK's ``responses.stream()`` accumulates: ``response.created``,
``response.in_progress``, then per output item ``output_item.added``, its part or summary
part, the deltas, the ``.done`` events and ``output_item.done``, and at the end
``response.completed`` (or ``response.incomplete``, or ``response.failed`` on an error), every
event with a ``sequence_number`` one above the last.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from gateway.translation.responses_out import (
    IdMaker,
    Item,
    function_call_item,
    message_item,
    reasoning_item,
    response_body,
)

Event = dict[str, Any]


@dataclass
class _Open:
    """The output item being streamed."""

    kind: str  # "message" | "reasoning" | "function_call"
    item_id: str
    index: int
    parts: list[str] = field(default_factory=list)
    call_id: str = ""
    name: str = ""
    tool_index: int = -1


class ResponsesStream:
    """One per streamed response: ``feed`` chat chunks, then ``finish`` or ``fail``."""

    def __init__(
        self,
        *,
        response_id: str,
        created_at: int,
        model: str,
        echo: Mapping[str, Any],
        new_id: IdMaker,
    ) -> None:
        self._base: dict[str, Any] = {
            "response_id": response_id,
            "created_at": created_at,
            "model": model,
            "echo": echo,
        }
        self._new_id = new_id
        self._seq = 0
        self._started = False
        self._open: _Open | None = None
        self.output: list[Item] = []

    def _event(self, kind: str, **fields: Any) -> Event:
        event = {"type": kind, "sequence_number": self._seq, **fields}
        self._seq += 1
        return event

    def _response(self, status: str, **extra: Any) -> dict[str, Any]:
        return response_body(output=list(self.output), status=status, **self._base, **extra)

    def _start(self) -> list[Event]:
        if self._started:
            return []
        self._started = True
        snapshot = self._response("in_progress")
        return [
            self._event("response.created", response=snapshot),
            self._event("response.in_progress", response=snapshot),
        ]

    def feed(self, chunks: Iterable[Mapping[str, Any]]) -> list[Event]:
        """The events for a batch of chat chunks (the usage chunk adds none)."""
        events = self._start()
        for chunk in chunks:
            choices = chunk.get("choices")
            if not choices:
                continue
            delta = choices[0].get("delta") or {}
            if delta.get("reasoning_content"):
                events += self._text("reasoning", delta["reasoning_content"])
            if delta.get("content"):
                events += self._text("message", delta["content"])
            for call in delta.get("tool_calls") or ():
                events += self._call(call)
        return events

    def _text(self, kind: str, text: str) -> list[Event]:
        events: list[Event] = []
        current = self._open
        if current is None or current.kind != kind:
            events += self._close()
            current = self._open_item(kind, events)
        current.parts.append(text)
        where = {"item_id": current.item_id, "output_index": current.index}
        if kind == "message":
            events.append(
                self._event(
                    "response.output_text.delta",
                    **where,
                    content_index=0,
                    delta=text,
                    logprobs=[],
                )
            )
        else:
            events.append(
                self._event(
                    "response.reasoning_summary_text.delta", **where, summary_index=0, delta=text
                )
            )
        return events

    def _open_item(self, kind: str, events: list[Event], **call: Any) -> _Open:
        prefix = {"message": "msg_", "reasoning": "rs_", "function_call": "fc_"}[kind]
        current = _Open(kind, self._new_id(prefix), len(self.output), **call)
        self._open = current
        item = self._item(current, "in_progress")
        self.output.append(item)
        where = {"item_id": current.item_id, "output_index": current.index}
        added = self._event("response.output_item.added", output_index=current.index, item=item)
        events.append(added)
        if kind == "message":
            part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
            events.append(
                self._event("response.content_part.added", **where, content_index=0, part=part)
            )
        elif kind == "reasoning":
            part = {"type": "summary_text", "text": ""}
            events.append(
                self._event(
                    "response.reasoning_summary_part.added", **where, summary_index=0, part=part
                )
            )
        return current

    def _call(self, call: Mapping[str, Any]) -> list[Event]:
        events: list[Event] = []
        index = call.get("index", 0)
        function = call.get("function") or {}
        current = self._open
        if call.get("id") or current is None or current.tool_index != index:
            events += self._close()
            current = self._open_item(
                "function_call",
                events,
                call_id=call.get("id") or "",
                name=function.get("name") or "",
                tool_index=index,
            )
        fragment = function.get("arguments") or ""
        if fragment:
            current.parts.append(fragment)
            events.append(
                self._event(
                    "response.function_call_arguments.delta",
                    item_id=current.item_id,
                    output_index=current.index,
                    delta=fragment,
                )
            )
        return events

    def _item(self, current: _Open, status: str) -> Item:
        text = "".join(current.parts)
        if current.kind == "message":
            return message_item(current.item_id, text, status)
        if current.kind == "reasoning":
            return reasoning_item(current.item_id, text, status)
        arguments = text if status != "completed" else text or "{}"
        return function_call_item(current.item_id, current.call_id, current.name, arguments, status)

    def _close(self) -> list[Event]:
        current = self._open
        if current is None:
            return []
        self._open = None
        events: list[Event] = []
        where = {"item_id": current.item_id, "output_index": current.index}
        text = "".join(current.parts)
        if current.kind == "message":
            part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
            events.append(
                self._event(
                    "response.output_text.done", **where, content_index=0, text=text, logprobs=[]
                )
            )
            events.append(
                self._event("response.content_part.done", **where, content_index=0, part=part)
            )
        elif current.kind == "reasoning":
            part = {"type": "summary_text", "text": text}
            events.append(
                self._event(
                    "response.reasoning_summary_text.done", **where, summary_index=0, text=text
                )
            )
            events.append(
                self._event(
                    "response.reasoning_summary_part.done", **where, summary_index=0, part=part
                )
            )
        else:
            if not text:
                events.append(
                    self._event("response.function_call_arguments.delta", **where, delta="{}")
                )
            events.append(
                self._event(
                    "response.function_call_arguments.done",
                    **where,
                    name=current.name,
                    arguments=text or "{}",
                )
            )
        item = self._item(current, "completed")
        self.output[current.index] = item
        done = self._event("response.output_item.done", output_index=current.index, item=item)
        events.append(done)
        return events

    def finish(self, completion: Mapping[str, Any]) -> tuple[list[Event], dict[str, Any]]:
        """The closing events, and the final ``response`` (to store)."""
        events = self._start()
        if not self.output:  # an empty answer still has its (empty) message
            self._open_item("message", events)
        events += self._close()
        final = self._response(
            "completed",
            usage=completion.get("usage"),
            finish=completion["choices"][0].get("finish_reason"),
            service_tier=completion.get("service_tier"),
        )
        kind = "response.completed" if final["status"] == "completed" else "response.incomplete"
        events.append(self._event(kind, response=final))
        return events, final

    def fail(self, code: str, message: str) -> list[Event]:
        """``response.failed``: the stream broke after it began."""
        events = self._start()
        final = self._response("failed", error={"code": code, "message": message})
        events.append(self._event("response.failed", response=final))
        return events


def sse_events(events: Iterable[Event]) -> bytes:
    """Server-sent events, each named by its type (as OpenAI sends them)."""
    return b"".join(
        b"event: " + event["type"].encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"
        for event in events
    )
