"""Schemas (HTTP edge): pydantic models of the OpenAI Responses request, and what is refused.

Top-level fields are closed (an unknown one is a 400 naming it, as OpenAI answers, unless the
route allows it in ``extra_fields``, as on chat); items and parts ignore unknown keys, since
clients resend output items with their ids and statuses. Known fields that Bedrock cannot
honour are parsed so that ``check_responses`` can refuse them by name.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from gateway.errors import UnsupportedParameterError
from gateway.schemas.chat import NAME_PATTERN, ReasoningEffort, WithExtras


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


# ---- input items ---------------------------------------------------------------------------


class InputText(_Lenient):
    type: Literal["input_text", "output_text"]
    text: str


class InputImage(_Lenient):
    type: Literal["input_image"]
    image_url: str | None = None
    file_id: str | None = None
    detail: Literal["auto", "low", "high", "original"] | None = None


class InputFile(_Lenient):
    """Parsed only to be refused by name."""

    type: Literal["input_file", "input_audio"]


class Refusal(_Lenient):
    type: Literal["refusal"]
    refusal: str


Part = Annotated[InputText | InputImage | InputFile | Refusal, Field(discriminator="type")]


class MessageItem(_Lenient):
    type: Literal["message"] = "message"
    role: Literal["user", "assistant", "system", "developer"]
    content: str | list[Part]


class FunctionCallItem(_Lenient):
    type: Literal["function_call"]
    call_id: str = Field(min_length=1)
    name: str = Field(pattern=NAME_PATTERN)
    arguments: str


class FunctionCallOutputItem(_Lenient):
    type: Literal["function_call_output"]
    call_id: str = Field(min_length=1)
    output: str | list[Part]


class ReasoningItem(_Lenient):
    """Sent back by clients; its text is not replayed (Bedrock needs its own signatures)."""

    type: Literal["reasoning"]


class OtherItem(_Lenient):
    """Item types the gateway cannot replay (hosted tool calls, item references...)."""

    type: str


_NOT_AN_OBJECT: dict[str, Any] = {
    "custom_error_type": "object_expected",
    "custom_error_message": "expected an object with a 'type'",
}
_ITEM_TAGS = frozenset({"message", "function_call", "function_call_output", "reasoning"})


def _type_of(value: Any, default: str | None = None) -> Any:
    if isinstance(value, dict):
        return value.get("type", default)
    return getattr(value, "type", None)


def _item_tag(value: Any) -> str | None:
    """Messages may omit ``type`` (an ``EasyInputMessage``); unknown types are "other";
    a value that is no object at all has no tag (a 400, not a crash)."""
    if not isinstance(value, dict | BaseModel):
        return None
    tag = _type_of(value, "message")
    return tag if tag in _ITEM_TAGS else "other"


def _function_tag(value: Any) -> str | None:
    if not isinstance(value, dict | BaseModel):
        return None
    return "function" if _type_of(value) == "function" else "other"


InputItem = Annotated[
    Annotated[MessageItem, Tag("message")]
    | Annotated[FunctionCallItem, Tag("function_call")]
    | Annotated[FunctionCallOutputItem, Tag("function_call_output")]
    | Annotated[ReasoningItem, Tag("reasoning")]
    | Annotated[OtherItem, Tag("other")],
    Discriminator(_item_tag, **_NOT_AN_OBJECT),
]


# ---- tools, formats ------------------------------------------------------------------------


class FunctionTool(_Lenient):
    type: Literal["function"]
    name: str = Field(pattern=NAME_PATTERN)
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class HostedTool(_Lenient):
    """Any other tool type: refused by name (OpenAI runs these, Bedrock has none)."""

    type: str


AnyTool = Annotated[
    Annotated[FunctionTool, Tag("function")] | Annotated[HostedTool, Tag("other")],
    Discriminator(_function_tag, **_NOT_AN_OBJECT),
]


class FunctionChoice(_Lenient):
    type: Literal["function"]
    name: str = Field(pattern=NAME_PATTERN)


class HostedChoice(_Lenient):
    type: str


AnyChoice = Annotated[
    Annotated[FunctionChoice, Tag("function")] | Annotated[HostedChoice, Tag("other")],
    Discriminator(_function_tag, **_NOT_AN_OBJECT),
]


class FormatText(_Lenient):
    type: Literal["text"]


class FormatJsonObject(_Lenient):
    type: Literal["json_object"]


class FormatJsonSchema(_Lenient):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    type: Literal["json_schema"]
    name: str = Field(pattern=NAME_PATTERN)
    schema_: dict[str, Any] = Field(alias="schema")
    description: str | None = None
    strict: bool | None = None


class TextConfig(_Lenient):
    format: (
        Annotated[FormatText | FormatJsonObject | FormatJsonSchema, Field(discriminator="type")]
        | None
    ) = None
    verbosity: Literal["low", "medium", "high"] | None = None


class ReasoningConfig(_Lenient):
    effort: ReasoningEffort | None = None
    summary: Literal["auto", "concise", "detailed"] | None = None
    generate_summary: Literal["auto", "concise", "detailed"] | None = None


class StreamOptions(_Lenient):
    include_obfuscation: bool | None = None


# ---- the request ---------------------------------------------------------------------------


class ResponsesRequest(WithExtras):
    """``POST /v1/responses``. Unknown top-level fields are refused, as OpenAI does, unless
    the route allows them (``extras``, passed on to the chat request it becomes)."""

    model: str
    input: str | list[InputItem] = Field(min_length=1)
    instructions: str | None = None
    tools: list[AnyTool] | None = None
    tool_choice: Literal["none", "auto", "required"] | AnyChoice | None = None
    parallel_tool_calls: bool | None = None
    text: TextConfig | None = None
    max_output_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    reasoning: ReasoningConfig | None = None
    metadata: dict[str, str] | None = None
    user: str | None = None
    safety_identifier: str | None = None
    prompt_cache_key: str | None = None
    service_tier: str | None = None
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    store: bool | None = True
    previous_response_id: str | None = None
    include: list[str] | None = None
    truncation: Literal["auto", "disabled"] | None = None
    # Parsed only to be refused by name (see ``REFUSED``).
    background: bool | None = None
    conversation: Any = None
    prompt: Any = None
    max_tool_calls: int | None = None
    top_logprobs: int | None = None
    context_management: Any = None
    prompt_cache_retention: Any = None

    @property
    def items(self) -> list[InputItem]:
        """``input`` as items (a string is one user message)."""
        if isinstance(self.input, str):
            return [MessageItem(role="user", content=self.input)]
        return list(self.input)


REFUSED: tuple[tuple[str, str], ...] = (
    (
        "tools[].type",
        "hosted tools (web_search, file_search, code_interpreter, computer_use, "
        "image_generation, mcp, ...) run on OpenAI's servers; Bedrock has none",
    ),
    ("tool_choice", "a hosted tool or allowed_tools choice, for the same reason"),
    ("background", "true: the gateway answers within the request, it has no job queue"),
    ("truncation", "other than 'disabled': the gateway never drops input silently"),
    ("conversation", "OpenAI's Conversations API; use previous_response_id"),
    ("prompt", "OpenAI's stored prompt templates"),
    ("max_tool_calls", "hosted tools only"),
    ("top_logprobs", "Bedrock returns no log probabilities"),
    ("include", "values other than reasoning.encrypted_content and output_text logprobs"),
    ("context_management", "server-side compaction"),
    ("prompt_cache_retention", "OpenAI's prompt-cache retention policy"),
    ("input items", "input_file, input_audio, image file_id, item_reference, hosted tool items"),
    (
        "input parts",
        "images outside user messages (system, developer, assistant, function_call_output) "
        "and refusal parts in user messages: the translation would drop them",
    ),
)
"""What ``POST /v1/responses`` refuses with a 400 naming the field, and why (the README list)."""

_INCLUDE_OK = frozenset({"reasoning.encrypted_content", "message.output_text.logprobs"})


def _refuse(param: str, detail: str) -> UnsupportedParameterError:
    return UnsupportedParameterError(
        f"Unsupported parameter: '{param}' {detail} is not supported by this gateway "
        "(Amazon Bedrock has no equivalent).",
        param=param,
    )


def check_responses(req: ResponsesRequest) -> None:
    """Refuse, by name, the known fields that Bedrock cannot honour."""
    if req.background:
        raise _refuse("background", "set to true")
    if req.truncation not in (None, "disabled"):
        raise _refuse("truncation", f"'{req.truncation}'")
    for name in ("conversation", "prompt", "context_management", "prompt_cache_retention"):
        if getattr(req, name) is not None:
            raise _refuse(name, "")
    if req.max_tool_calls is not None:
        raise _refuse("max_tool_calls", "")
    if req.top_logprobs:
        raise _refuse("top_logprobs", "")
    for value in req.include or ():
        if value not in _INCLUDE_OK:
            raise _refuse("include", f"with '{value}'")
    for i, tool in enumerate(req.tools or ()):
        if not isinstance(tool, FunctionTool):
            raise _refuse(f"tools[{i}].type", f"'{tool.type}' (a hosted tool)")
    if isinstance(req.tool_choice, HostedChoice):
        raise _refuse("tool_choice.type", f"'{req.tool_choice.type}'")
    if not isinstance(req.input, str):
        _check_items(req.input)


def _check_items(items: list[InputItem]) -> None:
    for i, item in enumerate(items):
        if isinstance(item, OtherItem):
            raise _refuse(f"input[{i}].type", f"'{item.type}'")
        if isinstance(item, MessageItem) and not isinstance(item.content, str):
            _check_parts(f"input[{i}].content", item.content, item.role)
        elif isinstance(item, FunctionCallOutputItem) and not isinstance(item.output, str):
            _check_parts(f"input[{i}].output", item.output, None)


def _check_parts(field: str, parts: list[Any], role: str | None) -> None:
    """``role``: the message's; None for a function_call_output (its parts become the tool
    result's text). A part that the translation would drop is refused, never lost silently:
    images reach the model from user messages only, refusals from the other places."""
    for j, part in enumerate(parts):
        if isinstance(part, InputFile):
            raise _refuse(f"{field}[{j}].type", f"'{part.type}'")
        if isinstance(part, InputImage) and not part.image_url:
            raise _refuse(f"{field}[{j}].file_id", "(uploaded files)")
        image = isinstance(part, InputImage)
        if (image and role != "user") or (isinstance(part, Refusal) and role == "user"):
            where = f"a '{role}' message" if role else "a function_call_output"
            raise UnsupportedParameterError(
                f"Unsupported parameter: '{field}[{j}].type': '{part.type}' parts in {where} "
                "are not supported by this gateway (they would not reach the model).",
                param=f"{field}[{j}].type",
            )


def stored_items(items: list[dict[str, Any]]) -> list[InputItem]:
    """Items kept by the gateway (a stored conversation), parsed again for a continuation."""
    if not items:
        return []
    return ResponsesRequest.model_validate({"model": "-", "input": items}).items
