"""Translation (pure): OpenAI chat messages to Converse ``system`` and ``messages``.

Decisions (Bedrock's conversation rules for Converse messages):

- ``system`` and ``developer`` messages, wherever they appear, become ``system`` text blocks in
  order; blank ones are dropped.
- Blank or whitespace-only text blocks are dropped. A message left with no content is DROPPED
  (not refused); consecutive same-role messages are then merged, so the roles still alternate.
  Only a conversation left with no turn at all is refused (400 naming ``messages``).
- Consecutive same-role turns are merged: in a user turn all toolResult blocks come first, in
  an assistant turn text comes before toolUse blocks.
- A conversation must start with a user turn: one starting with an assistant turn is refused
  (400 naming ``messages``). One ending with an assistant turn is sent as a prefill, with the
  trailing whitespace of its last text removed (Anthropic refuses it).
- A tool result must answer a tool call of the assistant turn just before it (400 naming
  ``messages[i].tool_call_id`` otherwise); each call is answered at most once.
- Tool call ids are sanitised to ``[a-zA-Z0-9_.:-]{1,64}`` by ``sanitize_tool_id``, applied alike
  to ``tool_calls[].id`` and ``tool_call_id``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from gateway.errors import InvalidRequestError, UnsupportedParameterError
from gateway.schemas.chat import (
    AssistantMessage,
    ChatCompletionRequest,
    DeveloperMessage,
    FilePart,
    FunctionMessage,
    ImageURLPart,
    SystemMessage,
    TextPart,
    ToolMessage,
    UserMessage,
)
from gateway.translation.documents import document_block, with_text
from gateway.translation.prepared import Block

IMAGE_FORMATS: dict[str, str] = {
    "png": "png",
    "jpeg": "jpeg",
    "jpg": "jpeg",
    "gif": "gif",
    "webp": "webp",
}
MAX_IMAGES = 20
MAX_IMAGE_BYTES = 3_750_000
IMAGE_TOKENS = 1600  # rough per-image prompt estimate (Claude: ~1.15 megapixels)
EMPTY_TOOL_RESULT = "(empty)"
URLS_DISABLED = "Image URLs are not enabled on this gateway; send the image as a data: URL"

_DATA_URL = re.compile(r"data:image/([A-Za-z0-9.+-]+);base64,")
_TOOL_ID_OK = re.compile(r"[a-zA-Z0-9_.:-]{1,64}")
_TOOL_ID_BAD = re.compile(r"[^a-zA-Z0-9_.:-]")


def sanitize_tool_id(tool_id: str) -> str:
    """A valid Bedrock ``toolUseId`` for any OpenAI id; deterministic, so both ends agree."""
    if _TOOL_ID_OK.fullmatch(tool_id):
        return tool_id
    clean = _TOOL_ID_BAD.sub("_", tool_id)
    if 1 <= len(clean) <= 64:
        return clean
    digest = hashlib.sha1(tool_id.encode(), usedforsecurity=False).hexdigest()[:10]
    return f"{clean[:53]}_{digest}"


class _Turn:
    __slots__ = ("head", "ids", "role", "tail", "used")

    def __init__(self, role: str) -> None:
        self.role = role
        self.head: list[Block] = []  # user: toolResult blocks; assistant: text blocks
        self.tail: list[Block] = []  # user: text/image blocks; assistant: toolUse blocks
        self.ids: set[str] = set()  # assistant: toolUseIds
        self.used: set[str] = set()  # user: toolUseIds answered


class MessageBuilder:
    """Walks ``req.messages`` once; ``chars`` and ``images`` feed the token estimate."""

    def __init__(
        self, images: Mapping[str, tuple[str, bytes]] | None, allow_image_urls: bool
    ) -> None:
        self.system: list[Block] = []
        self.turns: list[_Turn] = []
        self.chars = 0
        self.images = 0
        self.documents = 0
        self._document_names: set[str] = set()
        self.tool_names: dict[str, None] = {}
        self._fetched = images if allow_image_urls and images else {}
        self._allow_urls = allow_image_urls
        self._function_ids: dict[str, str] = {}

    def build(self, req: ChatCompletionRequest) -> list[Block]:
        for i, msg in enumerate(req.messages):
            if isinstance(msg, SystemMessage | DeveloperMessage):
                self._system(msg.content)
            elif isinstance(msg, UserMessage):
                self._add("user", [], self._user_blocks(msg, i))
            elif isinstance(msg, AssistantMessage):
                self._assistant(msg, i)
            elif isinstance(msg, ToolMessage):
                self._tool_result(msg.tool_call_id, _joined(msg.content), i, "tool_call_id")
            elif isinstance(msg, FunctionMessage):
                call_id = self._function_ids.pop(msg.name, None)
                if call_id is None:
                    raise InvalidRequestError(
                        f"Invalid value for 'messages[{i}].name': a 'function' message must "
                        "follow an assistant 'function_call' of that function.",
                        param=f"messages[{i}].name",
                    )
                self._tool_result(call_id, msg.content or "", i, "name", sanitized=True)
        return self._finish()

    # ---- system, user, assistant ---------------------------------------------------------

    def _system(self, content: str | list[TextPart]) -> None:
        texts = [content] if isinstance(content, str) else [p.text for p in content]
        for text in texts:
            if text and not text.isspace():
                self.system.append({"text": text})
                self.chars += len(text)

    def _user_blocks(self, msg: UserMessage, i: int) -> list[Block]:
        content = msg.content
        if isinstance(content, str):
            return self._text(content)
        blocks: list[Block] = []
        for j, part in enumerate(content):
            if isinstance(part, TextPart):
                blocks.extend(self._text(part.text))
            elif isinstance(part, ImageURLPart):
                blocks.append(self._image(part.image_url.url, f"messages[{i}].content[{j}]"))
            elif isinstance(part, FilePart):
                self.documents += 1
                where = f"messages[{i}].content[{j}]"
                blocks.append(
                    document_block(part.file, where, self.documents, self._document_names)
                )
            else:
                raise UnsupportedParameterError(
                    f"Content parts of type '{part.type}' are not supported by this gateway.",
                    param=f"messages[{i}].content[{j}]",
                )
        return with_text(blocks)

    def _text(self, text: str) -> list[Block]:
        if not text or text.isspace():
            return []
        self.chars += len(text)
        return [{"text": text}]

    def _assistant(self, msg: AssistantMessage, i: int) -> None:
        texts: list[Block] = []
        content = msg.content
        if isinstance(content, str):
            texts = self._text(content)
        elif content is not None:
            for part in content:
                texts.extend(self._text(part.text if isinstance(part, TextPart) else part.refusal))
        if not texts and msg.refusal:
            texts = self._text(msg.refusal)
        uses: list[Block] = []
        ids: list[str] = []
        for k, call in enumerate(msg.tool_calls or ()):
            where = f"messages[{i}].tool_calls[{k}].function.arguments"
            tool_id = sanitize_tool_id(call.id)
            uses.append(self._tool_use(tool_id, call.function.name, call.function.arguments, where))
            ids.append(tool_id)
        if msg.function_call is not None:
            fc = msg.function_call
            tool_id = f"call_fn_{i}"
            where = f"messages[{i}].function_call.arguments"
            uses.append(self._tool_use(tool_id, fc.name, fc.arguments, where))
            ids.append(tool_id)
            self._function_ids[fc.name] = tool_id
        self._add("assistant", texts, uses, ids)

    def _tool_use(self, tool_id: str, name: str, arguments: str, where: str) -> Block:
        self.chars += len(arguments) + len(name)
        self.tool_names[name] = None
        return {
            "toolUse": {"toolUseId": tool_id, "name": name, "input": _arguments(arguments, where)}
        }

    # ---- tool results ----------------------------------------------------------------------

    def _tool_result(
        self, call_id: str, text: str, i: int, field: str, *, sanitized: bool = False
    ) -> None:
        tool_id = call_id if sanitized else sanitize_tool_id(call_id)
        turns = self.turns
        answered = (
            turns[-1]
            if turns and turns[-1].role == "assistant"
            else (turns[-2] if len(turns) >= 2 else None)
        )
        pending = turns[-1] if turns and turns[-1].role == "user" else None
        if answered is None or tool_id not in answered.ids:
            raise InvalidRequestError(
                f"Invalid value for 'messages[{i}].{field}': a tool message must answer a tool "
                "call of the assistant message just before it.",
                param=f"messages[{i}].{field}",
            )
        if pending is not None and tool_id in pending.used:
            raise InvalidRequestError(
                f"Invalid value for 'messages[{i}].{field}': this tool call was already answered.",
                param=f"messages[{i}].{field}",
            )
        self.chars += len(text)
        block = {
            "toolResult": {
                "toolUseId": tool_id,
                "content": [_result_content(text)],
                "status": "success",
            }
        }
        self._add("user", [block], [])
        self.turns[-1].used.add(tool_id)

    # ---- images ------------------------------------------------------------------------------

    def _image(self, url: str, where: str) -> Block:
        param = f"{where}.image_url"
        self.images += 1
        if self.images > MAX_IMAGES:
            raise InvalidRequestError(
                f"Invalid value for '{param}': at most {MAX_IMAGES} images per request.",
                param=param,
            )
        if url.startswith("data:"):
            return _data_url_image(url, param)
        if not url.startswith(("https://", "http://")):
            raise InvalidRequestError(
                f"Invalid value for '{param}': expected a data: URL or an http(s) URL.",
                param=param,
            )
        if not self._allow_urls:
            raise InvalidRequestError(f"{URLS_DISABLED} ('{param}').", param=param)
        fetched = self._fetched.get(url)
        if fetched is None:
            raise InvalidRequestError(
                f"Invalid value for '{param}': the image could not be fetched.", param=param
            )
        fmt = IMAGE_FORMATS.get(fetched[0].lower().removeprefix("image/"))
        if fmt is None:
            raise InvalidRequestError(_BAD_FORMAT.format(param=param), param=param)
        _check_size(len(fetched[1]), param)
        data = base64.b64encode(fetched[1]).decode("ascii")
        return {"image": {"format": fmt, "source": {"bytes": data}}}

    # ---- turns --------------------------------------------------------------------------------

    def _add(
        self, role: str, head: list[Block], tail: list[Block], ids: Iterable[str] = ()
    ) -> None:
        if not head and not tail:
            return  # an empty message is dropped; merging keeps the roles alternating
        turns = self.turns
        if not turns or turns[-1].role != role:
            turns.append(_Turn(role))
        turn = turns[-1]
        turn.head.extend(head)
        turn.tail.extend(tail)
        turn.ids.update(ids)

    def _finish(self) -> list[Block]:
        turns = self.turns
        if not turns:
            raise InvalidRequestError(
                "Invalid value for 'messages': the conversation has no non-empty user or "
                "assistant message.",
                param="messages",
            )
        if turns[0].role != "user":
            raise InvalidRequestError(
                "Invalid value for 'messages': the conversation must start with a user message "
                "(after any system or developer messages), but it starts with an assistant "
                "message.",
                param="messages",
            )
        last = turns[-1]
        if last.role == "assistant" and last.head and not last.tail:
            _strip_prefill(last)
        return [{"role": t.role, "content": t.head + t.tail} for t in turns if t.head or t.tail]


_BAD_FORMAT = (
    "Invalid value for '{param}': unsupported image type; Amazon Bedrock accepts png, jpeg, "
    "gif and webp."
)


def _strip_prefill(turn: _Turn) -> None:
    text = turn.head[-1].get("text")
    if isinstance(text, str) and text != (stripped := text.rstrip()):
        turn.head[-1] = {"text": stripped}


def _data_url_image(url: str, param: str) -> Block:
    match = _DATA_URL.match(url)
    if match is None:
        raise InvalidRequestError(
            f"Invalid value for '{param}': expected a data URL of the form "
            "data:image/<png|jpeg|gif|webp>;base64,<data>.",
            param=param,
        )
    fmt = IMAGE_FORMATS.get(match[1].lower())
    if fmt is None:
        raise InvalidRequestError(_BAD_FORMAT.format(param=param), param=param)
    data = url[match.end() :]
    try:
        raw = binascii.a2b_base64(data, strict_mode=True)
    except ValueError:  # binascii.Error, or a non-ASCII str
        raise InvalidRequestError(
            f"Invalid value for '{param}': the image data is not valid base64.", param=param
        ) from None
    if not raw:
        raise InvalidRequestError(f"Invalid value for '{param}': the image is empty.", param=param)
    _check_size(len(raw), param)
    return {"image": {"format": fmt, "source": {"bytes": data}}}


def _check_size(size: int, param: str) -> None:
    if size > MAX_IMAGE_BYTES:
        raise InvalidRequestError(
            f"Invalid value for '{param}': the image exceeds Bedrock's limit of 3.75 MB.",
            param=param,
        )


def _joined(content: str | list[TextPart]) -> str:
    return content if isinstance(content, str) else "".join(p.text for p in content)


def _result_content(text: str) -> Block:
    if not text or text.isspace():
        return {"text": EMPTY_TOOL_RESULT}
    if text[0] == "{" or (text[0].isspace() and text.lstrip().startswith("{")):
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            return {"text": text}
        if isinstance(value, dict):
            return {"json": value}
    return {"text": text}


def _arguments(arguments: str, where: str) -> Any:
    if not arguments or arguments.isspace():
        return {}
    try:
        value = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        raise InvalidRequestError(
            f"Invalid value for '{where}': the arguments are not valid JSON.", param=where
        ) from None
    if not isinstance(value, dict):
        raise InvalidRequestError(
            f"Invalid value for '{where}': the arguments must be a JSON object.", param=where
        )
    return value
