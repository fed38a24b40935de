"""Translation (pure): OpenAI chat requests to Bedrock Converse request bodies.

Two steps, so that a fallback to another model does not redo the work:
``prepare_conversation`` (once per request, model-independent) and ``converse_body`` (per model).

Decisions:

- ``temperature`` above 1 (OpenAI allows 0..2, Bedrock 0..1) is CLAMPED to 1.0, so existing
  client code keeps working. ``top_p`` is dropped when ``temperature`` is set for models that
  refuse both (Claude Sonnet 4.5+, Haiku 4.5, Opus 4.1+).
- ``tool_choice: "none"``: no toolConfig, unless the history has tool blocks (Bedrock then
  requires one): a toolConfig is synthesised from the tool names used in the history with a
  permissive schema, and no toolChoice. The same happens when the history has tool blocks but
  the request offers no tools. ``strict`` on a tool is ignored.
- Named ``tool_choice`` becomes ``{"tool": ...}`` for Claude 3+ and Nova, ``{"any": {}}`` for
  other models; ``meta.llama3-1-*`` gets no toolChoice at all.
- ``response_format: json_object`` appends a system instruction. ``json_schema`` with no tools
  offered uses a forced tool named after the schema (Claude 3+, Nova; the tool input becomes
  the answer text, finish_reason ``stop``); other models, a schema with a non-object top level,
  or a request that also offers tools get a system instruction embedding the schema.
- ``reasoning_effort`` on Claude 3.7 / 4.x enables extended thinking (minimal/low 1024,
  medium 4096, high 16384, xhigh/max 32768 budget tokens, capped below maxTokens) and drops
  temperature/topP. It is ignored for other models, when the cap would fall under 1024, when
  a tool choice is forced, and for prefill or a pending tool-result turn (Claude's rules).
- Message rules (merging, blank text, first turn, tool ids) are in ``translation.messages``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from math import ceil
from typing import Any

import orjson

from gateway.capabilities import capabilities_for
from gateway.schemas.chat import (
    ChatCompletionRequest,
    ImageURLPart,
    NamedToolChoice,
    ResponseFormatJsonObject,
    ResponseFormatJsonSchema,
    Tool,
    UserMessage,
)
from gateway.translation.levers import Levers, apply_levers
from gateway.translation.messages import IMAGE_TOKENS, MessageBuilder, sanitize_tool_id
from gateway.translation.models import model_family, model_traits
from gateway.translation.prepared import Block, PreparedConversation

__all__ = [
    "Levers",
    "PreparedConversation",
    "converse_body",
    "fold_system",
    "image_urls",
    "model_family",
    "output_budget",
    "prepare_conversation",
    "sanitize_tool_id",
]

JSON_OBJECT_INSTRUCTION = (
    "Respond with a single valid JSON object and nothing else: no prose before or after it "
    "and no Markdown code fences."
)
JSON_TOOL_DESCRIPTION = "Give the final answer by calling this tool; its input is the answer."
THINKING_BUDGETS: dict[str, int] = {
    "minimal": 1024,
    "low": 1024,
    "medium": 4096,
    "high": 16384,
    "xhigh": 32768,
    "max": 32768,
}
MIN_THINKING_BUDGET = 1024
_AUTO: Block = {"auto": {}}
_ANY: Block = {"any": {}}


def _permissive_schema() -> Block:
    return {"type": "object", "properties": {}}


def image_urls(req: ChatCompletionRequest) -> list[str]:
    """The http(s) image URLs of a request, in order and de-duplicated, for the I/O layer."""
    urls: dict[str, None] = {}
    for msg in req.messages:
        if isinstance(msg, UserMessage) and not isinstance(msg.content, str):
            for part in msg.content:
                if isinstance(part, ImageURLPart):
                    url = part.image_url.url
                    if url.startswith(("https://", "http://")):
                        urls[url] = None
    return list(urls)


def prepare_conversation(
    req: ChatCompletionRequest,
    *,
    images: Mapping[str, tuple[str, bytes]] | None = None,
    allow_image_urls: bool = False,
) -> PreparedConversation:
    """Translate the model-independent part of a chat request (raises InvalidRequestError)."""
    builder = MessageBuilder(images, allow_image_urls)
    messages = builder.build(req)
    history = tuple(builder.tool_names)
    chars = builder.chars
    offered = req.tools if req.tools and req.tool_choice != "none" else None
    tool_specs, tool_choice, tool_chars = _tools(req, offered, history)
    chars += tool_chars
    json_mode, instruction, json_spec = _json_mode(req, tools_offered=bool(offered))
    if instruction:
        chars += len(instruction)
    temperature = req.temperature
    if temperature is not None and temperature > 1.0:
        temperature = 1.0
    stop = req.stop
    stops = [stop] if isinstance(stop, str) else stop
    last = messages[-1]
    pending_results = last["role"] == "user" and "toolResult" in last["content"][0]
    effort = req.reasoning_effort if req.reasoning_effort != "none" else None
    return PreparedConversation(
        system=builder.system,
        messages=messages,
        tool_specs=tool_specs,
        tool_choice=tool_choice,
        history_tools=history,
        max_tokens=req.max_output_tokens,
        temperature=temperature,
        top_p=req.top_p,
        stop=([s for s in stops if s] or None) if stops else None,
        json_mode=json_mode,
        json_instruction=instruction,
        json_tool_spec=json_spec,
        json_tool_name=json_spec["toolSpec"]["name"] if json_spec else None,
        reasoning_effort=effort,
        thinking_allowed=last["role"] == "user" and not pending_results,
        uses_tools=tool_specs is not None,
        uses_images=builder.images > 0,
        uses_documents=builder.documents > 0,
        prompt_tokens=ceil(chars / 4) + builder.images * IMAGE_TOKENS,
        prefix_digest=_prefix_digest(builder.system, tool_specs),
        prefix_tokens=ceil((sum(len(b["text"]) for b in builder.system) + tool_chars) / 4),
    )


def _prefix_digest(system: list[Block], tool_specs: list[Block] | None) -> str:
    """A digest of the tools and system prompt (what a first cache point would cover)."""
    if not system and not tool_specs:
        return ""
    data = orjson.dumps([tool_specs or [], system], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(data).hexdigest()[:32]


def _tools(
    req: ChatCompletionRequest, offered: list[Tool] | None, history: tuple[str, ...]
) -> tuple[list[Block] | None, Block | None, int]:
    """(toolConfig.tools, toolChoice, schema chars): the request's tools, or the history's."""
    if offered:
        specs: list[Block] = []
        chars = 0
        for tool in offered:
            fn = tool.function
            spec, size = _tool_spec(fn.name, fn.description, fn.parameters)
            specs.append(spec)
            chars += size
        return specs, _tool_choice(req), chars
    if history:  # Bedrock requires a toolConfig whenever tool blocks appear
        permissive = [
            {"toolSpec": {"name": name, "inputSchema": {"json": _permissive_schema()}}}
            for name in history
        ]
        return permissive, None, 0
    return None, None, 0


def _tool_spec(
    name: str, description: str | None, parameters: dict[str, Any] | None
) -> tuple[Block, int]:
    schema = parameters if parameters else _permissive_schema()
    spec: Block = {"name": name, "inputSchema": {"json": schema}}
    size = len(name) + (len(orjson.dumps(parameters)) if parameters else 0)
    if description:
        spec["description"] = description
        size += len(description)
    return {"toolSpec": spec}, size


def _tool_choice(req: ChatCompletionRequest) -> Block | None:
    choice = req.tool_choice
    if choice == "auto":
        return _AUTO
    if choice == "required":
        return _ANY
    if isinstance(choice, NamedToolChoice):
        return {"tool": {"name": choice.function.name}}
    return None  # unset: Bedrock's default is auto


def _json_mode(
    req: ChatCompletionRequest, *, tools_offered: bool
) -> tuple[str | None, str | None, Block | None]:
    fmt = req.response_format
    if isinstance(fmt, ResponseFormatJsonObject):
        return "json_object", JSON_OBJECT_INSTRUCTION, None
    if not isinstance(fmt, ResponseFormatJsonSchema):
        return None, None, None
    spec = fmt.json_schema
    schema = spec.schema_
    if schema is None:
        instruction = JSON_OBJECT_INSTRUCTION
    else:
        instruction = (
            f"{JSON_OBJECT_INSTRUCTION} The object must conform to this JSON Schema "
            f"(named {spec.name}): {orjson.dumps(schema).decode()}"
        )
    if tools_offered or (schema is not None and schema.get("type", "object") != "object"):
        return "json_schema", instruction, None
    tool: Block = {
        "name": spec.name,
        "description": spec.description or JSON_TOOL_DESCRIPTION,
        "inputSchema": {"json": schema if schema else _permissive_schema()},
    }
    return "json_schema", instruction, {"toolSpec": tool}


def converse_body(
    prepared: PreparedConversation,
    bedrock_id: str,
    *,
    guardrail: tuple[str, str] | None = None,
    default_max_tokens: int | None = None,
    levers: Levers | None = None,
) -> dict[str, Any]:
    """The Converse / ConverseStream request body (without ``modelId``) for one model, shaped
    by what the model accepts (``gateway.capabilities``): ``maxTokens`` always sent for a
    known model (the client's, else ``default_max_tokens``, else the model's output budget),
    system prompts folded into the first user turn where the model has none. ``levers``:
    cache points, service tier, latency and extra fields (``translation.levers``)."""
    traits = model_traits(bedrock_id)
    body: dict[str, Any] = {"messages": prepared.messages}
    forced_json = prepared.json_tool_spec is not None and traits.forced_tool
    system = prepared.system
    if prepared.json_instruction and not forced_json:
        system = [*system, {"text": prepared.json_instruction}]
    if system and traits.system_prompt:
        body["system"] = system
    elif system:
        body["messages"] = fold_system(system, prepared.messages)
    if default_max_tokens is None:
        caps = capabilities_for(bedrock_id)
        if caps is not None and caps.kind == "chat":
            default_max_tokens = output_budget(
                prepared.prompt_tokens, caps.max_output_tokens, caps.context_window
            )
    specs, choice = prepared.tool_specs, prepared.tool_choice
    if forced_json and prepared.json_tool_spec is not None:
        specs = [*(specs or ()), prepared.json_tool_spec]
        choice = {"tool": {"name": prepared.json_tool_name}}
    if choice is not None and "tool" in choice and not traits.forced_tool:
        choice = _ANY
    if choice is _ANY and not traits.any_choice:
        choice = None  # the model takes no forced choice: Bedrock's default (auto) applies
    if specs:
        tool_config: dict[str, Any] = {"tools": specs}
        if choice is not None and traits.tool_choice:
            tool_config["toolChoice"] = choice
        body["toolConfig"] = tool_config
    forced = choice is not None and choice is not _AUTO
    _inference(
        body,
        prepared,
        traits.thinking and not forced,
        traits.exclusive_sampling,
        prepared.max_tokens or default_max_tokens,
    )
    if guardrail is not None:
        body["guardrailConfig"] = {
            "guardrailIdentifier": guardrail[0],
            "guardrailVersion": guardrail[1],
            "trace": "disabled",
        }
    if levers is not None:
        apply_levers(body, bedrock_id, levers)
    return body


def fold_system(system: list[Block], messages: list[Block]) -> list[Block]:
    """Messages with the system text prepended to the first user turn, for models that refuse
    Converse ``system`` blocks (Titan Text, Mistral 7B, Mixtral: "This model doesn't support
    system messages."). A new list: the prepared messages are shared and stay untouched."""
    text = "\n\n".join(block["text"] for block in system if "text" in block)
    first = messages[0]
    folded = {"role": first["role"], "content": [{"text": text}, *first["content"]]}
    return [folded, *messages[1:]]


def output_budget(prompt_tokens: int, max_output_tokens: int, context_window: int | None) -> int:
    """The ``maxTokens`` sent when the client set none: the model's maximum output, within
    what its context window leaves after the prompt (estimated generously, +20%)."""
    if not context_window:
        return max_output_tokens
    room = context_window - ceil(prompt_tokens * 1.2)
    return max(1, min(max_output_tokens, room))


def _inference(
    body: dict[str, Any],
    prepared: PreparedConversation,
    can_think: bool,
    exclusive_sampling: bool,
    max_tokens: int | None,
) -> None:
    temperature, top_p = prepared.temperature, prepared.top_p
    effort = prepared.reasoning_effort
    if effort is not None and can_think and prepared.thinking_allowed:
        budget = THINKING_BUDGETS.get(effort, MIN_THINKING_BUDGET)
        if max_tokens is not None:
            budget = min(budget, max_tokens - 1)
        if budget >= MIN_THINKING_BUDGET:
            body["additionalModelRequestFields"] = {
                "thinking": {"type": "enabled", "budget_tokens": budget}
            }
            temperature = top_p = None
    if exclusive_sampling and temperature is not None:
        top_p = None
    config: dict[str, Any] = {}
    if max_tokens is not None:
        config["maxTokens"] = max_tokens
    if temperature is not None:
        config["temperature"] = temperature
    if top_p is not None:
        config["topP"] = top_p
    if prepared.stop:
        config["stopSequences"] = prepared.stop
    if config:
        body["inferenceConfig"] = config
