"""Shadow eligibility (pure): a shadow must meet every requirement the request carried."""

from __future__ import annotations

from typing import Any

from gateway.shadow.eligibility import shadow_targets
from tests.unit.shadow.shadow_testkit import plan, policy

TOOLS = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]


def causes(body: dict[str, Any], **kwargs: Any) -> dict[str, str]:
    pol = policy()
    p = plan(pol, body, **kwargs)
    spec = pol.routes["r"].shadow
    assert spec is not None
    targets = shadow_targets(
        spec,
        p.decision,
        prompt_tokens=p.prepared.prompt_tokens,
        max_tokens=p.prepared.max_tokens,
        primary=p.decision.model.name,
    )
    return {t.model.name: t.cause for t in targets}


def msg(text: str = "hi") -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def test_the_answering_model_is_never_its_own_shadow() -> None:
    assert "haiku" not in causes({"model": "r", "messages": msg()})


def test_a_plain_request_may_go_to_every_shadow_whose_window_fits() -> None:
    # llama's 100-token window is smaller than the 256-token output estimate.
    assert causes({"model": "r", "messages": msg()}) == {
        "nova": "",
        "llama": "context_window",
        "mistral": "",
    }


def test_confidential_tier_excludes_lower_tier_shadows() -> None:
    headers = {"x-data-class": "confidential"}
    got = causes({"model": "r", "messages": msg(), "max_tokens": 10}, headers=headers)
    assert got == {"nova": "", "llama": "safety_tier", "mistral": "safety_tier"}
    by_header = causes(
        {"model": "r", "messages": msg(), "max_tokens": 10}, headers={"x-gateway-safety-tier": "2"}
    )
    assert by_header == {"nova": "", "llama": "", "mistral": "safety_tier"}


def test_features_the_request_needs_are_required() -> None:
    got = causes({"model": "r", "messages": msg(), "tools": TOOLS, "max_tokens": 10})
    assert got == {"nova": "", "llama": "features", "mistral": "features"}
    streamed = causes({"model": "r", "messages": msg(), "stream": True, "max_tokens": 10})
    assert streamed == {"nova": "", "llama": "", "mistral": "features"}


def test_max_tokens_over_a_models_output_limit() -> None:
    got = causes({"model": "r", "messages": msg(), "max_tokens": 200})
    assert got["mistral"] == "max_output_tokens"
