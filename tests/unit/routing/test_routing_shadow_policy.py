"""Policy: a route's optional ``shadow:`` block and a tenant's ``shadow: false``."""

from __future__ import annotations

import pytest

from gateway.routing import PolicyError, load_policy_text

BASE = """\
version: 1
models:
  haiku:
    bedrock_id: anthropic.claude-3-haiku
    price: {input_per_mtok: 0.25, output_per_mtok: 1.25}
    safety_tier: 3
    context_window: 200000
    features: [tools, streaming]
  llama3-70b:
    bedrock_id: meta.llama3-70b
    price: {input_per_mtok: 2.65, output_per_mtok: 3.5}
    safety_tier: 2
    context_window: 8000
  mistral-large:
    bedrock_id: mistral.mistral-large
    price: {input_per_mtok: 4, output_per_mtok: 12}
    context_window: 32000
  titan:
    bedrock_id: amazon.titan-embed-text-v2:0
    kind: embedding
    price: {input_per_mtok: 0.02}
"""


def load(routes: str, tenants: str = ""):  # type: ignore[no-untyped-def]
    return load_policy_text(BASE + "routes:\n" + routes + tenants, source="p.yaml")


def test_a_route_without_shadow_has_none() -> None:
    policy = load("  r: {strategy: ordered, candidates: [haiku]}\n")
    assert policy.routes["r"].shadow is None
    assert policy.lookup["haiku"].shadow is None


def test_the_documented_block_compiles_with_its_values() -> None:
    policy = load(
        "  r:\n    strategy: ordered\n    candidates: [haiku]\n"
        "    shadow: {models: [llama3-70b, mistral-large], share: 0.05, max_in_flight: 8,"
        " budget_usd_per_day: 5, embedding_model: titan}\n"
    )
    spec = policy.routes["r"].shadow
    assert spec is not None
    assert [m.name for m in spec.models] == ["llama3-70b", "mistral-large"]
    assert (spec.share, spec.max_in_flight, spec.budget_usd_per_day) == (0.05, 8, 5.0)
    assert spec.embedding_model is not None and spec.embedding_model.name == "titan"


def test_defaults_and_integer_share() -> None:
    policy = load("  r: {strategy: ordered, candidates: [haiku], shadow: {models: [llama3-70b]}}\n")
    spec = policy.routes["r"].shadow
    assert spec is not None
    assert (spec.share, spec.max_in_flight, spec.budget_usd_per_day) == (0.05, 8, None)
    assert spec.embedding_model is None
    one = load(
        "  r: {strategy: ordered, candidates: [haiku], shadow: {models: [llama3-70b], share: 1}}\n"
    )
    assert one.routes["r"].shadow is not None and one.routes["r"].shadow.share == 1.0


@pytest.mark.parametrize(
    ("block", "path", "message"),
    [
        ("{models: [nope]}", "routes.r.shadow.models[0]", "unknown model 'nope'"),
        ("{models: [titan]}", "routes.r.shadow.models[0]", "embedding model 'titan'"),
        ("{models: [llama3-70b, llama3-70b]}", "routes.r.shadow.models[1]", "listed twice"),
        ("{models: []}", "routes.r.shadow.models", "at least 1 item"),
        ("{models: [llama3-70b], share: 1.5}", "routes.r.shadow.share", "less than or equal to 1"),
        ("{models: [llama3-70b], share: -0.1}", "routes.r.shadow.share", "greater than or equal"),
        ("{models: [llama3-70b], max_in_flight: 0}", "routes.r.shadow.max_in_flight", ">= 1"),
        (
            "{models: [llama3-70b], budget_usd_per_day: -1}",
            "routes.r.shadow.budget_usd_per_day",
            "greater than or equal to 0",
        ),
        (
            "{models: [llama3-70b], embedding_model: haiku}",
            "routes.r.shadow.embedding_model",
            "not an embedding model",
        ),
        ("{models: [llama3-70b], queue: 3}", "routes.r.shadow.queue", "unknown key 'queue'"),
    ],
)
def test_bad_shadow_blocks_are_refused_with_their_path(block: str, path: str, message: str) -> None:
    with pytest.raises(PolicyError) as info:
        load(f"  r: {{strategy: ordered, candidates: [haiku], shadow: {block}}}\n")
    issues = [(i.path, i.message) for i in info.value.issues]
    assert any(
        p == path and message.replace(">= 1", "greater than or equal to 1") in m for p, m in issues
    ), issues


def test_a_shadow_below_the_routes_own_tier_is_refused() -> None:
    with pytest.raises(PolicyError) as info:
        load(
            "  r: {strategy: ordered, candidates: [haiku], require: {safety_tier: 3},"
            " shadow: {models: [mistral-large]}}\n"
        )
    (issue,) = info.value.issues
    assert issue.path == "routes.r.shadow.models[0]"
    assert "safety_tier 1 < required 3" in issue.message


def test_a_shadow_lacking_a_feature_the_route_requires_is_refused() -> None:
    with pytest.raises(PolicyError) as info:
        load(
            "  r: {strategy: ordered, candidates: [haiku], require: {features: [tools]},"
            " shadow: {models: [llama3-70b]}}\n"
        )
    assert "lacks tools" in str(info.value)


def test_tenant_shadow_opt_out() -> None:
    policy = load(
        "  r: {strategy: ordered, candidates: [haiku]}\n",
        "tenants:\n  secret: {shadow: false}\n  open: {}\n",
    )
    assert policy.tenants["secret"].shadow_allowed is False
    assert policy.tenants["open"].shadow_allowed is True
    assert policy.tenants["default"].shadow_allowed is True


def test_tenant_shadow_must_be_a_boolean() -> None:
    with pytest.raises(PolicyError) as info:
        load(
            "  r: {strategy: ordered, candidates: [haiku]}\n",
            "tenants:\n  t: {shadow: sometimes}\n",
        )
    assert info.value.issues[0].path == "tenants.t.shadow"
