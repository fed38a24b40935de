"""API: the seam where a finished chat answer is offered to shadow evaluation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from gateway.service.context import CallContext

if TYPE_CHECKING:  # the state holds the hook, and a plan holds the state's types
    from gateway.service.chat import ChatPlan


class ShadowHook(Protocol):
    """Called once per answered (non-cached) chat request, after the client's answer is sent.

    It must return at once: it only decides and schedules background work, which never
    changes the client's response, its latency or its headers.
    """

    def after_answer(
        self, plan: ChatPlan, ctx: CallContext, completion: Mapping[str, Any]
    ) -> None: ...
