"""Translation (pure): a chat completion (the pipeline's answer) to a Responses ``response``.

Output items: a ``reasoning`` item when the model thought aloud, a ``message`` with one
``output_text`` part, then one ``function_call`` item per tool call (its ``call_id`` is the
tool call's id, unique per call). Ids of new items come from ``new_id`` (the caller's random
source), so this module stays pure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from gateway.schemas.responses import (
    FormatJsonObject,
    FormatJsonSchema,
    FunctionChoice,
    FunctionTool,
    ResponsesRequest,
)

IdMaker = Callable[[str], str]
Item = dict[str, Any]

_INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}


def request_echo(req: ResponsesRequest) -> dict[str, Any]:
    """The request's settings as a ``response`` object repeats them."""
    fmt: dict[str, Any] = {"type": "text"}
    given = req.text.format if req.text is not None else None
    if isinstance(given, FormatJsonSchema):
        fmt = {
            "type": "json_schema",
            "name": given.name,
            "schema": given.schema_,
            "description": given.description,
            "strict": given.strict,
        }
    elif isinstance(given, FormatJsonObject):
        fmt = {"type": "json_object"}
    choice: Any = req.tool_choice or "auto"
    if isinstance(choice, FunctionChoice):
        choice = {"type": "function", "name": choice.name}
    tools = [
        {
            "type": "function",
            "name": t.name,
            "description": t.description,
            "parameters": t.parameters,
            "strict": t.strict if t.strict is not None else True,
        }
        for t in req.tools or ()
        if isinstance(t, FunctionTool)
    ]
    return {
        "background": False,
        "instructions": req.instructions,
        "max_output_tokens": req.max_output_tokens,
        "metadata": req.metadata or {},
        "parallel_tool_calls": req.parallel_tool_calls is not False,
        "previous_response_id": req.previous_response_id,
        "reasoning": {
            "effort": req.reasoning.effort if req.reasoning else None,
            "summary": req.reasoning.summary if req.reasoning else None,
        },
        "store": req.store is not False,
        "temperature": req.temperature,
        "text": {"format": fmt},
        "tool_choice": choice,
        "tools": tools,
        "top_p": req.top_p,
        "truncation": "disabled",
        "user": req.user,
    }


def response_body(
    *,
    response_id: str,
    created_at: int,
    model: str,
    echo: Mapping[str, Any],
    output: list[Item],
    status: str,
    usage: Mapping[str, Any] | None = None,
    finish: str | None = None,
    error: Mapping[str, Any] | None = None,
    service_tier: str | None = None,
) -> dict[str, Any]:
    """A ``response`` object; ``finish`` (the chat finish reason) decides complete or not;
    ``service_tier`` is the tier that served (known once the answer is)."""
    reason = _INCOMPLETE.get(finish or "")
    if status == "completed" and reason is not None:
        status = "incomplete"
    return {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "error": dict(error) if error is not None else None,
        "incomplete_details": {"reason": reason} if status == "incomplete" else None,
        "model": model,
        "output": output,
        "usage": response_usage(usage) if usage is not None else None,
        **echo,
        **({"service_tier": service_tier} if service_tier is not None else {}),
    }


def response_usage(chat_usage: Mapping[str, Any]) -> dict[str, Any]:
    prompt = int(chat_usage.get("prompt_tokens") or 0)
    completion = int(chat_usage.get("completion_tokens") or 0)
    details = chat_usage.get("prompt_tokens_details") or {}
    cached = int(details.get("cached_tokens") or 0)
    written = int(details.get("cache_write_tokens") or 0)
    reasoning = int(
        (chat_usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0
    )
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": written},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": prompt + completion,
    }


def message_item(item_id: str, text: str, status: str = "completed") -> Item:
    part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
    return {
        "id": item_id,
        "type": "message",
        "role": "assistant",
        "status": status,
        "content": [part] if status == "completed" else [],
    }


def reasoning_item(item_id: str, text: str, status: str = "completed") -> Item:
    summary = [{"type": "summary_text", "text": text}] if status == "completed" else []
    return {"id": item_id, "type": "reasoning", "summary": summary, "status": status}


def function_call_item(
    item_id: str, call_id: str, name: str, arguments: str, status: str = "completed"
) -> Item:
    return {
        "id": item_id,
        "type": "function_call",
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": status,
    }


def output_items(completion: Mapping[str, Any], new_id: IdMaker) -> list[Item]:
    """The output items of a chat completion's single choice."""
    message = completion["choices"][0]["message"]
    items: list[Item] = []
    if message.get("reasoning_content"):
        items.append(reasoning_item(new_id("rs_"), message["reasoning_content"]))
    calls = message.get("tool_calls") or []
    text = message.get("content")
    if text or not calls:
        items.append(message_item(new_id("msg_"), text or ""))
    for call in calls:
        function = call["function"]
        items.append(
            function_call_item(
                new_id("fc_"), call["id"], function["name"], function["arguments"] or "{}"
            )
        )
    return items


def response_from_completion(
    completion: Mapping[str, Any],
    *,
    response_id: str,
    created_at: int,
    echo: Mapping[str, Any],
    new_id: IdMaker,
) -> dict[str, Any]:
    """The whole non-streamed ``response`` object."""
    return response_body(
        response_id=response_id,
        created_at=created_at,
        model=completion["model"],
        echo=echo,
        output=output_items(completion, new_id),
        status="completed",
        usage=completion.get("usage"),
        finish=completion["choices"][0].get("finish_reason"),
        service_tier=completion.get("service_tier"),
    )


def input_item_records(items: list[Mapping[str, Any]], new_id: IdMaker) -> list[Item]:
    """The request's input items as ``GET /v1/responses/{id}/input_items`` lists them."""
    out: list[Item] = []
    for raw in items:
        item = dict(raw)
        kind = item.setdefault("type", "message")
        if kind == "message" and isinstance(item.get("content"), str):
            text = item["content"]
            part: Item = {"type": "input_text", "text": text}
            if item.get("role") == "assistant":
                part = {"type": "output_text", "text": text, "annotations": []}
            item["content"] = [part]
        item.setdefault("status", "completed")
        item.setdefault("id", new_id(_ID_PREFIX.get(kind, "item_")))
        out.append(item)
    return out


_ID_PREFIX = {"message": "msg_", "function_call": "fc_", "function_call_output": "fco_"}
