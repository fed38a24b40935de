"""Schemas (HTTP edge): pydantic models of the OpenAI Chat Completions request."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

NAME_PATTERN = r"^[a-zA-Z0-9_-]{1,64}$"

ReasoningEffort = Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"]


class _Lenient(BaseModel):
    """Nested objects ignore unknown keys (clients add their own, e.g. LangChain ids)."""

    model_config = ConfigDict(extra="ignore")


# ---- content parts -------------------------------------------------------------------------


class TextPart(_Lenient):
    type: Literal["text"]
    text: str


class ImageURL(_Lenient):
    url: str
    detail: Literal["auto", "low", "high"] | None = None


class ImageURLPart(_Lenient):
    type: Literal["image_url"]
    image_url: ImageURL


class RefusalPart(_Lenient):
    type: Literal["refusal"]
    refusal: str


class InputAudioPart(_Lenient):
    """Parsed only to be refused by ``check_supported`` with a 400 naming the part."""

    type: Literal["input_audio"]
    input_audio: dict[str, Any] | None = None


class FilePart(_Lenient):
    """A file (``file_data`` base64, ``filename``): a Converse document block."""

    type: Literal["file"]
    file: dict[str, Any] | None = None


UserPart = Annotated[
    TextPart | ImageURLPart | InputAudioPart | FilePart, Field(discriminator="type")
]
AssistantPart = Annotated[TextPart | RefusalPart, Field(discriminator="type")]


# ---- messages ------------------------------------------------------------------------------


class FunctionCall(_Lenient):
    name: str = Field(pattern=NAME_PATTERN)
    arguments: str


class ToolCall(_Lenient):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class SystemMessage(_Lenient):
    role: Literal["system"]
    content: str | list[TextPart]
    name: str | None = None


class DeveloperMessage(_Lenient):
    role: Literal["developer"]
    content: str | list[TextPart]
    name: str | None = None


class UserMessage(_Lenient):
    role: Literal["user"]
    content: str | list[UserPart]
    name: str | None = None


class AssistantMessage(_Lenient):
    role: Literal["assistant"]
    content: str | list[AssistantPart] | None = None
    refusal: str | None = None
    name: str | None = None
    audio: dict[str, Any] | None = None
    tool_calls: list[ToolCall] | None = None
    function_call: FunctionCall | None = None


class ToolMessage(_Lenient):
    role: Literal["tool"]
    content: str | list[TextPart]
    tool_call_id: str


class FunctionMessage(_Lenient):
    """Deprecated ``function`` role: the result of the preceding assistant ``function_call``."""

    role: Literal["function"]
    content: str | None = None
    name: str = Field(pattern=NAME_PATTERN)


Message = Annotated[
    SystemMessage
    | DeveloperMessage
    | UserMessage
    | AssistantMessage
    | ToolMessage
    | FunctionMessage,
    Field(discriminator="role"),
]


# ---- tools and formats ---------------------------------------------------------------------


class FunctionDefinition(_Lenient):
    name: str = Field(pattern=NAME_PATTERN)
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class Tool(_Lenient):
    type: Literal["function"]
    function: FunctionDefinition


class ToolChoiceFunction(_Lenient):
    name: str = Field(pattern=NAME_PATTERN)


class NamedToolChoice(_Lenient):
    type: Literal["function"]
    function: ToolChoiceFunction


class FunctionCallChoice(_Lenient):
    """Deprecated ``function_call: {"name": ...}``."""

    name: str = Field(pattern=NAME_PATTERN)


class JsonSchemaSpec(_Lenient):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    name: str = Field(pattern=NAME_PATTERN)
    description: str | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None


class ResponseFormatText(_Lenient):
    type: Literal["text"]


class ResponseFormatJsonObject(_Lenient):
    type: Literal["json_object"]


class ResponseFormatJsonSchema(_Lenient):
    type: Literal["json_schema"]
    json_schema: JsonSchemaSpec


ResponseFormat = Annotated[
    ResponseFormatText | ResponseFormatJsonObject | ResponseFormatJsonSchema,
    Field(discriminator="type"),
]


class StreamOptions(_Lenient):
    include_usage: bool | None = None
    include_obfuscation: bool | None = None


# ---- the request ---------------------------------------------------------------------------


class WithExtras(BaseModel):
    """A request body whose top-level fields outside its schema are kept aside (set by
    ``schemas.parse``): a route may allow them as Bedrock ``additionalModelRequestFields``."""

    model_config = ConfigDict(extra="forbid")

    _extras: dict[str, Any] = PrivateAttr(default_factory=dict)

    # Read and written through the private-attribute dict itself: ``self._extras`` goes
    # through BaseModel.__getattr__, about 4 us a read, and the plan reads it several times.
    @property
    def extras(self) -> dict[str, Any]:
        private = self.__pydantic_private__
        return private["_extras"] if private is not None else {}

    @extras.setter
    def extras(self, value: dict[str, Any]) -> None:
        if self.__pydantic_private__ is None:
            self._extras = value
        else:
            self.__pydantic_private__["_extras"] = value


class ChatCompletionRequest(WithExtras):
    """``POST /v1/chat/completions``. Unknown top-level fields are refused, as OpenAI does,
    unless the route allows them (``extras``)."""

    model: str
    messages: list[Message] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    stop: str | Annotated[list[str], Field(max_length=4)] | None = None
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    tools: list[Tool] | None = None
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    seed: int | None = None
    n: int | None = Field(default=None, ge=1, le=128)
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    logit_bias: dict[str, float] | None = None
    user: str | None = None
    metadata: dict[str, Any] | None = None
    store: bool | None = None
    service_tier: str | None = None
    reasoning_effort: ReasoningEffort | None = None
    safety_identifier: str | None = None
    prompt_cache_key: str | None = None
    modalities: list[str] | None = None
    audio: dict[str, Any] | None = None
    prediction: dict[str, Any] | None = None
    web_search_options: dict[str, Any] | None = None
    verbosity: Literal["low", "medium", "high"] | None = None
    functions: list[FunctionDefinition] | None = None
    function_call: Literal["none", "auto"] | FunctionCallChoice | None = None

    @model_validator(mode="after")
    def _map_deprecated_functions(self) -> ChatCompletionRequest:
        """Deprecated ``functions``/``function_call`` fill unset ``tools``/``tool_choice``."""
        if self.functions is not None and self.tools is None:
            self.tools = [Tool(type="function", function=f) for f in self.functions]
        fc = self.function_call
        if fc is not None and self.tool_choice is None:
            if isinstance(fc, FunctionCallChoice):
                self.tool_choice = NamedToolChoice(
                    type="function", function=ToolChoiceFunction(name=fc.name)
                )
            else:
                self.tool_choice = fc
        return self

    @property
    def max_output_tokens(self) -> int | None:
        """``max_completion_tokens`` ?? ``max_tokens``."""
        if self.max_completion_tokens is not None:
            return self.max_completion_tokens
        return self.max_tokens

    @property
    def include_usage(self) -> bool:
        return bool(self.stream_options is not None and self.stream_options.include_usage)
