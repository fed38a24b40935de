"""Schemas (HTTP edge): pydantic model of the OpenAI Embeddings request."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Texts = Annotated[list[str], Field(min_length=1, max_length=2048)]
TokenIds = Annotated[list[int], Field(min_length=1)]
TokenIdLists = Annotated[list[list[int]], Field(min_length=1)]


class EmbeddingRequest(BaseModel):
    """``POST /v1/embeddings``. Token-id inputs parse, then ``parse`` refuses them."""

    model_config = ConfigDict(extra="forbid")

    model: str
    input: str | Texts | TokenIds | TokenIdLists
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(default=None, ge=1)
    user: str | None = None

    @property
    def texts(self) -> list[str]:
        """The inputs as strings (token ids, which ``parse`` refuses, are skipped)."""
        value = self.input
        if isinstance(value, str):
            return [value]
        return [v for v in value if isinstance(v, str)]
