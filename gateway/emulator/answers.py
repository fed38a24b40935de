"""Emulator: the deterministic answer to a Converse request (text, tool calls, usage)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from gateway.emulator.intent import embedded_schema, json_asked, relevant_tool, system_text
from gateway.emulator.rules import long_reply_tokens
from gateway.emulator.state import Behaviour

GUARDRAIL_REPLY = "Sorry, the model cannot answer this question."
#: One token of a long answer (4 characters, the emulator's characters-per-token).
LONG_WORD = "tok "
THINKING_SIGNATURE = "emulator-thinking-signature"
_SCHEMA_VALUES: dict[str, Any] = {"integer": 1, "number": 1.5, "boolean": True}


@dataclass(frozen=True, slots=True)
class ToolCall:
    tool_use_id: str
    name: str
    input: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Answer:
    """What the model says: optional text, optional tool call, stop reason and usage."""

    text: str | None
    tool: ToolCall | None
    stop_reason: str
    usage: dict[str, int]
    reasoning: str | None = None  # extended thinking, when the request enabled it
    #: Response members echoing the request's levers (serviceTier, performanceConfig).
    served: dict[str, Any] = field(default_factory=dict)

    def content(self) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = []
        if self.reasoning is not None:
            text = {"text": self.reasoning, "signature": THINKING_SIGNATURE}
            blocks.append({"reasoningContent": {"reasoningText": text}})
        if self.text is not None:
            blocks.append({"text": self.text})
        if self.tool is not None:
            tool = self.tool
            blocks.append(
                {"toolUse": {"toolUseId": tool.tool_use_id, "name": tool.name, "input": tool.input}}
            )
        return blocks


def _ceil_div4(chars: int) -> int:
    return -(-chars // 4)


def block_chars(block: dict[str, Any]) -> int:
    if "text" in block:
        return len(block["text"])
    if "toolUse" in block:
        return len(orjson.dumps(block["toolUse"].get("input")))
    if "toolResult" in block:
        return len(_result_text(block["toolResult"]))
    guard = block.get("guardContent")
    if guard and "text" in guard:
        return len(guard["text"].get("text", ""))
    return 0


def tool_chars(tool: dict[str, Any]) -> int:
    """Characters of one tool definition: name, description and input schema."""
    spec = tool.get("toolSpec")
    if spec is None:
        return 0
    schema = (spec.get("inputSchema") or {}).get("json")
    return (
        len(spec.get("name", "")) + len(spec.get("description") or "") + len(orjson.dumps(schema))
    )


def prompt_chars(body: dict[str, Any]) -> int:
    """Characters of the whole prompt: tool definitions, system and messages."""
    total = sum(tool_chars(t) for t in (body.get("toolConfig") or {}).get("tools") or [])
    total += sum(block_chars(b) for b in body.get("system") or [])
    for message in body.get("messages") or []:
        total += sum(block_chars(b) for b in message["content"])
    return total


def _usage(body: dict[str, Any], output_chars: int) -> dict[str, int]:
    """Usage without prompt caching (``prompt_cache.with_cache`` moves cached tokens out)."""
    input_tokens = max(1, _ceil_div4(prompt_chars(body)))
    output_tokens = _ceil_div4(output_chars)
    return {
        "inputTokens": input_tokens,
        "outputTokens": output_tokens,
        "totalTokens": input_tokens + output_tokens,
    }


def _result_text(result: dict[str, Any]) -> str:
    parts = []
    for item in result.get("content") or []:
        if "text" in item:
            parts.append(item["text"])
        elif "json" in item:
            parts.append(orjson.dumps(item["json"]).decode())
    return "".join(parts)


def _last_user(body: dict[str, Any]) -> list[dict[str, Any]]:
    for message in reversed(body.get("messages") or []):
        if message["role"] == "user":
            content: list[dict[str, Any]] = message["content"]
            return content
    return []


def _tool_specs(tool_config: dict[str, Any]) -> list[dict[str, Any]]:
    return [tool["toolSpec"] for tool in tool_config.get("tools") or [] if "toolSpec" in tool]


def _choose_tool(tool_config: dict[str, Any], user_text: str) -> tuple[dict[str, Any], bool] | None:
    """The tool to call and whether the choice was `auto`; None for no call."""
    specs = _tool_specs(tool_config)
    if not specs:
        return None
    choice = tool_config.get("toolChoice") or {"auto": {}}
    if "any" in choice:
        return specs[0], False
    if "tool" in choice:
        wanted = choice["tool"].get("name")
        named = [spec for spec in specs if spec["name"] == wanted]
        return (named[0], False) if named else None
    spec = relevant_tool(specs, user_text)  # auto: only when the prompt plausibly needs it
    return None if spec is None else (spec, True)


def _schema_value(prop: str, schema: Any) -> Any:
    if not isinstance(schema, dict):
        return f"{prop}-value"
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((item for item in kind if item != "null"), "string")
    if kind == "array":
        return []
    if kind == "object":
        return {}
    return _SCHEMA_VALUES.get(str(kind), f"{prop}-value")


def tool_arguments(spec: dict[str, Any]) -> dict[str, Any]:
    """A value for each required property of the tool's input schema (all if none required)."""
    schema = (spec.get("inputSchema") or {}).get("json") or {}
    properties: dict[str, Any] = schema.get("properties") or {}
    names = [name for name in schema.get("required") or [] if name in properties] or list(
        properties
    )
    return {name: _schema_value(name, properties[name]) for name in names}


def json_reply(body: dict[str, Any], said: str) -> str:
    """One JSON object: shaped by the schema the system prompt embeds, else ``{"answer": ...}``."""
    schema = embedded_schema(system_text(body))
    if schema is None or schema.get("type", "object") != "object":
        return orjson.dumps({"answer": said}).decode()
    return orjson.dumps(tool_arguments({"inputSchema": {"json": schema}})).decode()


def tool_use_id(model_id: str, user_text: str, tool_name: str, turn: int = 0) -> str:
    """Deterministic, and unique per call within a conversation: ``turn`` is the number of
    messages before the last one (agent SDKs refuse an id reused within a run)."""
    seed = f"{model_id}\x00{user_text}\x00{tool_name}"
    if turn:
        seed += f"\x00{turn}"
    return "tooluse_" + hashlib.sha256(seed.encode()).hexdigest()[:22]


def _planned_tool(body: dict[str, Any], tool_config: dict[str, Any]) -> dict[str, Any] | None:
    """After a tool result: the next tool that the first user message named and that the
    conversation has not called yet (so an agent can chain several tools, then hand off)."""
    messages = body.get("messages") or []
    first = next((m for m in messages if m["role"] == "user"), None)
    if first is None:
        return None
    asked = "\n".join(block["text"] for block in first["content"] if "text" in block).lower()
    called = {
        block["toolUse"]["name"]
        for m in messages
        if m["role"] == "assistant"
        for block in m["content"]
        if "toolUse" in block
    }
    for spec in _tool_specs(tool_config):
        if spec["name"] not in called and spec["name"].lower() in asked:
            return spec
    return None


def _limit(text: str, config: dict[str, Any]) -> tuple[str, str]:
    stop_reason = "end_turn"
    cut = -1
    for sequence in config.get("stopSequences") or []:
        found = text.find(sequence)
        if found != -1 and (cut == -1 or found < cut):
            cut = found
    if cut != -1:
        text, stop_reason = text[:cut], "stop_sequence"
    max_tokens = config.get("maxTokens")
    if max_tokens is not None and len(text) > max_tokens * 4:
        text, stop_reason = text[: max_tokens * 4], "max_tokens"
    return text, stop_reason


def answer(body: dict[str, Any], base_id: str, behaviour: Behaviour | None) -> Answer:
    """The deterministic answer to a validated Converse body (with a line of thinking first
    when the request enabled Claude's extended thinking)."""
    result = _answer(body, base_id, behaviour)
    thinking = (body.get("additionalModelRequestFields") or {}).get("thinking") or {}
    if thinking.get("type") != "enabled":
        return result
    reasoning = f"Thinking about: {_user_text(body)[:100]}"
    usage = _usage(body, len(reasoning) + _output_chars(result))
    return replace(result, reasoning=reasoning, usage=usage)


def _user_text(body: dict[str, Any]) -> str:
    return "\n".join(block["text"] for block in _last_user(body) if "text" in block)


def _output_chars(result: Answer) -> int:
    tool = len(orjson.dumps(result.tool.input)) if result.tool is not None else 0
    return len(result.text or "") + tool


def _answer(body: dict[str, Any], base_id: str, behaviour: Behaviour | None) -> Answer:
    last_user = _last_user(body)
    user_text = "\n".join(block["text"] for block in last_user if "text" in block)
    if body.get("guardrailConfig") and "forbidden" in user_text.lower():
        return Answer(
            GUARDRAIL_REPLY, None, "guardrail_intervened", _usage(body, len(GUARDRAIL_REPLY))
        )
    results = [block["toolResult"] for block in last_user if "toolResult" in block]
    tool_config = body.get("toolConfig")
    planned = _planned_tool(body, tool_config) if results and tool_config else None
    if planned is not None:
        return _tool_answer(body, base_id, behaviour, user_text, (planned, True))
    if results:
        first = results[0]
        reply = f"Tool {first.get('toolUseId')} returned: {_result_text(first)[:200]}"
    else:
        chosen = _choose_tool(tool_config, user_text) if tool_config else None
        if chosen is not None:
            return _tool_answer(body, base_id, behaviour, user_text, chosen)
        reply = f"Hello from {base_id}. You said: {user_text[:200]}"
        long_tokens = long_reply_tokens(user_text)
        if long_tokens is not None:
            reply = LONG_WORD * long_tokens
        elif json_asked(body):
            reply = json_reply(body, reply)
    if behaviour is not None and behaviour.reply is not None:
        reply = behaviour.reply
    reply, stop_reason = _limit(reply, body.get("inferenceConfig") or {})
    return Answer(reply, None, stop_reason, _usage(body, len(reply)))


def _tool_answer(
    body: dict[str, Any],
    base_id: str,
    behaviour: Behaviour | None,
    user_text: str,
    chosen: tuple[dict[str, Any], bool],
) -> Answer:
    spec, auto = chosen
    if behaviour is not None and behaviour.tool_arguments is not None:
        arguments = dict(behaviour.tool_arguments)
    else:
        arguments = tool_arguments(spec)
    turn = len(body.get("messages") or ()) - 1
    call_id = tool_use_id(base_id, user_text, spec["name"], turn)
    call = ToolCall(call_id, spec["name"], arguments)
    text = f"Calling {spec['name']}." if auto else None
    output_chars = len(text or "") + len(orjson.dumps(arguments))
    return Answer(text, call, "tool_use", _usage(body, output_chars))
