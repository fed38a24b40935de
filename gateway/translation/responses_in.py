"""Translation (pure): a Responses request (and the stored conversation before it) to the
body of the equivalent chat completions request.

Responses is served by the chat pipeline: the items become chat messages (consecutive
``function_call`` items become one assistant turn with several tool calls), function tools
and formats take their chat spelling, and the result is parsed as a chat request, so the
same routing, caching, limits and translation to Converse apply.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gateway.schemas.responses import (
    FormatJsonObject,
    FormatJsonSchema,
    FunctionCallItem,
    FunctionCallOutputItem,
    FunctionChoice,
    FunctionTool,
    InputImage,
    InputItem,
    InputText,
    MessageItem,
    Part,
    Refusal,
    ResponsesRequest,
)

Message = dict[str, Any]


def chat_body(req: ResponsesRequest, history: Iterable[InputItem] = ()) -> dict[str, Any]:
    """The chat completions body for ``req``, after the items of ``previous_response_id``."""
    messages: list[Message] = []
    if req.instructions:
        messages.append({"role": "system", "content": req.instructions})
    messages.extend(chat_messages([*history, *req.items]))
    body: dict[str, Any] = {"model": req.model, "messages": messages}
    if req.tools:
        body["tools"] = [_tool(t) for t in req.tools if isinstance(t, FunctionTool)]
    if req.tool_choice is not None:
        choice = req.tool_choice
        if isinstance(choice, FunctionChoice):
            body["tool_choice"] = {"type": "function", "function": {"name": choice.name}}
        elif isinstance(choice, str):
            body["tool_choice"] = choice
    fmt = req.text.format if req.text is not None else None
    if isinstance(fmt, FormatJsonSchema):
        spec = {"name": fmt.name, "schema": fmt.schema_}
        spec |= _present(description=fmt.description, strict=fmt.strict)
        body["response_format"] = {"type": "json_schema", "json_schema": spec}
    elif isinstance(fmt, FormatJsonObject):
        body["response_format"] = {"type": "json_object"}
    body |= _present(
        max_completion_tokens=req.max_output_tokens,
        temperature=req.temperature,
        top_p=req.top_p,
        parallel_tool_calls=req.parallel_tool_calls,
        user=req.user,
        service_tier=req.service_tier,
        prompt_cache_key=req.prompt_cache_key,
        safety_identifier=req.safety_identifier,
        reasoning_effort=req.reasoning.effort if req.reasoning is not None else None,
    )
    if req.stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def _present(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


def _tool(tool: FunctionTool) -> dict[str, Any]:
    function = {"name": tool.name} | _present(
        description=tool.description, parameters=tool.parameters, strict=tool.strict
    )
    return {"type": "function", "function": function}


def chat_messages(items: Iterable[InputItem]) -> list[Message]:
    """Chat messages for Responses items; reasoning items are dropped (not replayable)."""
    out: list[Message] = []
    for item in items:
        if isinstance(item, MessageItem):
            out.append(_message(item))
        elif isinstance(item, FunctionCallItem):
            call = {
                "id": item.call_id,
                "type": "function",
                "function": {"name": item.name, "arguments": item.arguments},
            }
            last = out[-1] if out else None
            if last is not None and last["role"] == "assistant":
                last.setdefault("tool_calls", []).append(call)
            else:
                out.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif isinstance(item, FunctionCallOutputItem):
            content = item.output if isinstance(item.output, str) else _text(item.output)
            out.append({"role": "tool", "tool_call_id": item.call_id, "content": content})
    return out


def _message(item: MessageItem) -> Message:
    content = item.content
    if item.role == "assistant":
        text = content if isinstance(content, str) else _text(content)
        return {"role": "assistant", "content": text}
    if isinstance(content, str):
        return {"role": item.role, "content": content}
    if item.role in ("system", "developer"):
        return {"role": item.role, "content": _text(content)}
    return {"role": "user", "content": [p for p in map(_user_part, content) if p is not None]}


def _text(parts: Iterable[Part]) -> str:
    out: list[str] = []
    for part in parts:
        if isinstance(part, InputText):
            out.append(part.text)
        elif isinstance(part, Refusal):
            out.append(part.refusal)
    return "".join(out)


def _user_part(part: Part) -> dict[str, Any] | None:
    if isinstance(part, InputText):
        return {"type": "text", "text": part.text}
    if isinstance(part, InputImage) and part.image_url:
        image: dict[str, Any] = {"url": part.image_url}
        if part.detail in ("auto", "low", "high"):
            image["detail"] = part.detail
        return {"type": "image_url", "image_url": image}
    return None
