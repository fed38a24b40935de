"""Translation (pure): the model-independent result of translating one chat request."""

from __future__ import annotations

from typing import Any, NamedTuple

Block = dict[str, Any]


class PreparedConversation(NamedTuple):
    """Everything ``converse_body`` needs, computed once per request (fallbacks reuse it).

    The lists are shared with every body built from this object: treat them as read-only.
    A NamedTuple rather than a frozen dataclass: 21 fields, built per request, where a frozen
    dataclass's ``__init__`` costs about 0.2 us a field.
    """

    system: list[Block]
    messages: list[Block]
    tool_specs: list[Block] | None  # toolConfig.tools (request tools, or synthesised from history)
    tool_choice: Block | None  # {"auto": {}} | {"any": {}} | {"tool": {"name"}} | None (omit)
    history_tools: tuple[str, ...]  # tool names used by toolUse blocks in the history
    max_tokens: int | None
    temperature: float | None  # already clamped to Bedrock's 0..1
    top_p: float | None
    stop: list[str] | None
    json_mode: str | None  # "json_object" | "json_schema" | None
    json_instruction: str | None  # system text for JSON mode when no forced tool is used
    json_tool_spec: Block | None  # forced tool for json_schema (models with forced tool choice)
    json_tool_name: str | None
    reasoning_effort: str | None  # "none" is stored as None
    thinking_allowed: bool  # no prefill and no pending tool results (Claude thinking rules)
    uses_tools: bool  # tools offered, or tool blocks in the history
    uses_images: bool
    uses_documents: bool
    prompt_tokens: int  # estimate: ceil(chars / 4), plus a fixed amount per image
    #: Digest and estimated tokens of the stable prefix (tools and system), for the estimate
    #: of prompt-cache reads ("" when there is none).
    prefix_digest: str = ""
    prefix_tokens: int = 0

    @property
    def has_tool_blocks(self) -> bool:
        return bool(self.history_tools)
