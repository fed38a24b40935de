"""Translation (pure): OpenAI ``file`` content parts to Converse ``document`` blocks.

A part ``{"type": "file", "file": {"file_data": ..., "filename": ...}}`` carries base64 bytes,
raw or as a ``data:<mime>;base64,`` URL (``file_id`` needs OpenAI's Files API: refused). The
format comes from the MIME type, else the file name's extension, else the bytes (``%PDF``).
Bedrock's limits (Message.content documentation) are enforced with a 400 naming the part:
at most 5 documents per request, each at most 4.5 MB. Bedrock wants a name of letters, digits,
single spaces, hyphens, parentheses and square brackets, unique in the request: the file name
(without extension) is reduced to that. A document needs a text block in the same turn: a
user turn with only files gets one naming them (``[document: name]``).
"""

from __future__ import annotations

import binascii
import re
from typing import Any

from gateway.errors import InvalidRequestError, UnsupportedParameterError

Block = dict[str, Any]

MAX_DOCUMENTS = 5
MAX_DOCUMENT_BYTES = 4_500_000
DOCUMENT_FORMATS: frozenset[str] = frozenset(
    {"pdf", "csv", "doc", "docx", "xls", "xlsx", "html", "txt", "md"}
)
_MIME_FORMATS: dict[str, str] = {
    "application/pdf": "pdf",
    "text/csv": "csv",
    "application/msword": "doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.ms-excel": "xls",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "text/html": "html",
    "text/plain": "txt",
    "text/markdown": "md",
}
_DATA_URL = re.compile(r"data:([A-Za-z0-9.+/-]+);base64,")
_NAME_BAD = re.compile(r"[^A-Za-z0-9\s()\[\]-]+")
_SPACES = re.compile(r"\s+")
_FORMATS_TEXT = ", ".join(sorted(DOCUMENT_FORMATS))


def _fail(param: str, what: str) -> InvalidRequestError:
    return InvalidRequestError(f"Invalid value for '{param}': {what}", param=param)


def _format(mime: str | None, filename: str, raw: bytes, param: str) -> str:
    if mime is not None and mime.lower() in _MIME_FORMATS:
        return _MIME_FORMATS[mime.lower()]
    ext = filename.rpartition(".")[2].lower() if "." in filename else ""
    if ext == "htm":
        ext = "html"
    if ext in DOCUMENT_FORMATS:
        return ext
    if raw.startswith(b"%PDF"):
        return "pdf"
    raise _fail(
        param,
        f"unsupported document type; Amazon Bedrock accepts {_FORMATS_TEXT} "
        "(give the file a name with one of these extensions or a data: URL with its MIME type).",
    )


def document_name(filename: str, index: int, taken: set[str]) -> str:
    """A Bedrock-valid document name from a file name, unique among ``taken``."""
    stem = filename.rpartition(".")[0] if "." in filename else filename
    name = _SPACES.sub(" ", _NAME_BAD.sub("-", stem)).strip()[:190] or f"document-{index}"
    unique, n = name, 2
    while unique in taken:
        unique, n = f"{name} ({n})", n + 1
    taken.add(unique)
    return unique


def _decode(data: str, param: str) -> tuple[str | None, str, bytes]:
    match = _DATA_URL.match(data)
    mime = match[1] if match else None
    payload = data[match.end() :] if match else data
    try:
        raw = binascii.a2b_base64(payload, strict_mode=True)
    except ValueError:
        raise _fail(param, "the file data is not valid base64.") from None
    if not raw:
        raise _fail(param, "the file is empty.")
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise _fail(param, "the document exceeds Bedrock's limit of 4.5 MB.")
    return mime, payload, raw


def document_block(file: dict[str, Any] | None, param: str, count: int, taken: set[str]) -> Block:
    """The ``document`` block of the ``count``-th file part (1-based) of a request."""
    spec = file or {}
    if spec.get("file_id") and not spec.get("file_data"):
        raise UnsupportedParameterError(
            f"Unsupported parameter: '{param}.file.file_id': uploaded files are not supported by "
            "this gateway; send the file inline as base64 'file_data'.",
            param=f"{param}.file.file_id",
        )
    data = spec.get("file_data")
    if not isinstance(data, str) or not data:
        raise _fail(f"{param}.file", "a file part needs base64 'file_data'.")
    if count > MAX_DOCUMENTS:
        raise _fail(param, f"at most {MAX_DOCUMENTS} documents per request (Amazon Bedrock).")
    filename = spec.get("filename")
    filename = filename if isinstance(filename, str) else ""
    mime, payload, raw = _decode(data, f"{param}.file.file_data")
    fmt = _format(mime, filename, raw, param)
    name = document_name(filename, count, taken)
    return {"document": {"format": fmt, "name": name, "source": {"bytes": payload}}}


def with_text(blocks: list[Block]) -> list[Block]:
    """A user turn's blocks with a text block naming its documents if it has no text."""
    names = [b["document"]["name"] for b in blocks if "document" in b]
    if not names or any("text" in b for b in blocks):
        return blocks
    label = ", ".join(names)
    return [*blocks, {"text": f"[document: {label}]"}]
