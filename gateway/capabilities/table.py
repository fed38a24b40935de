"""Capabilities (pure): the model table, one row per Bedrock base model, as AWS documents it.

Every row names the AWS Bedrock user-guide pages it is taken from (``sources``, relative to
https://docs.aws.amazon.com/bedrock/latest/userguide/). Keys of the pages used:

- features:  conversation-inference-supported-models-features.html (system, tools,
             streaming tools, images, documents in Converse)
- profiles:  inference-profiles-support.html, models-supported.html (on demand vs profile)
- lifecycle: model-lifecycle.html
- caching:   prompt-caching.html
- thinking:  claude-messages-extended-thinking.html
- params:    model-parameters-*.html (output limits, defaults, sampling rules)
- tiers:     service-tiers-inference.html (models offering the flex and priority tiers)
- latency:   latency-optimized-inference.html (performanceConfig latency "optimized")

To add a model: add a row here (with its sources), then a catalogue entry in a policy.
"""

from __future__ import annotations

from gateway.capabilities.model import ModelCapabilities, PromptCaching, Reasoning, ToolChoiceKind

_FEATURES = "conversation-inference-supported-models-features.html"
_PROFILES = "inference-profiles-support.html"
_MODELS = "models-supported.html"
_LIFECYCLE = "model-lifecycle.html"
_CACHING = "prompt-caching.html"
_THINKING = "claude-messages-extended-thinking.html"
_TIERS = "service-tiers-inference.html"
_LATENCY = "latency-optimized-inference.html"

_US = frozenset({"us-east-1", "us-west-2"})
_ALL_TOOL_CHOICES: frozenset[ToolChoiceKind] = frozenset({"auto", "any", "tool"})

MODELS: tuple[ModelCapabilities, ...] = (
    # --- Anthropic ---------------------------------------------------------------------------
    ModelCapabilities(
        base_id="anthropic.claude-3-haiku-20240307-v1:0",
        name="Claude 3 Haiku",
        provider="anthropic",
        family="claude-3",
        tools=True,
        streaming_tools=True,
        tool_choice=_ALL_TOOL_CHOICES,
        images=True,
        documents=True,
        max_output_tokens=4096,
        context_window=200000,
        on_demand_regions=_US,
        profiles=frozenset({"us", "eu", "apac"}),
        sources=(_FEATURES, _PROFILES, _MODELS),
    ),
    ModelCapabilities(
        base_id="anthropic.claude-3-7-sonnet-20250219-v1:0",
        name="Claude 3.7 Sonnet",
        provider="anthropic",
        family="claude-3-7",
        tools=True,
        streaming_tools=True,
        tool_choice=_ALL_TOOL_CHOICES,
        images=True,
        documents=True,
        reasoning=Reasoning(),
        prompt_caching=PromptCaching(min_tokens=1024, max_points=4),
        max_output_tokens=64000,
        context_window=200000,
        profiles=frozenset({"us", "eu", "apac"}),
        sources=(_FEATURES, _PROFILES, _CACHING, _THINKING),
    ),
    ModelCapabilities(
        base_id="anthropic.claude-3-5-haiku-20241022-v1:0",
        name="Claude 3.5 Haiku",
        provider="anthropic",
        family="claude-3-5",
        tools=True,
        streaming_tools=True,
        tool_choice=_ALL_TOOL_CHOICES,
        documents=True,
        prompt_caching=PromptCaching(min_tokens=2048, max_points=4),
        latency_optimized_regions=frozenset({"us-east-2", "us-west-2"}),
        max_output_tokens=8192,
        context_window=200000,
        on_demand_regions=_US,
        profiles=frozenset({"us"}),
        sources=(_FEATURES, _PROFILES, _CACHING, _LATENCY),
    ),
    # --- Meta --------------------------------------------------------------------------------
    ModelCapabilities(
        base_id="meta.llama3-1-8b-instruct-v1:0",
        name="Llama 3.1 8B Instruct",
        provider="meta",
        family="llama3-1",
        tools=True,
        streaming_tools=False,
        max_output_tokens=2048,
        default_output_tokens=512,
        context_window=128000,
        on_demand_regions=frozenset({"us-west-2"}),
        profiles=frozenset({"us"}),
        sources=(_FEATURES, _PROFILES, "model-parameters-meta.html"),
    ),
    # --- OpenAI (open weights) ---------------------------------------------------------------
    ModelCapabilities(
        base_id="openai.gpt-oss-20b-1:0",
        name="gpt-oss-20b",
        provider="openai",
        family="gpt-oss",
        tools=True,
        tool_choice=frozenset({"auto"}),
        service_tiers=frozenset({"flex", "priority"}),
        max_output_tokens=16384,
        context_window=128000,
        on_demand_regions=frozenset({"us-east-1", "us-east-2", "us-west-2"}),
        sources=(_FEATURES, _MODELS, _TIERS),
    ),
    # --- Amazon ------------------------------------------------------------------------------
    ModelCapabilities(
        base_id="amazon.titan-text-express-v1",
        name="Titan Text G1 - Express",
        provider="amazon",
        family="titan",
        system_prompt=False,
        max_output_tokens=8192,
        default_output_tokens=512,
        context_window=8192,
        on_demand_regions=frozenset({"us-east-1", "us-west-2"}),
        sources=(_FEATURES, _MODELS, "model-parameters-titan-text.html"),
    ),
    ModelCapabilities(
        base_id="amazon.titan-embed-text-v2:0",
        name="Titan Text Embeddings V2",
        provider="amazon",
        family="titan-embed",
        kind="embedding",
        converse=False,
        converse_stream=False,
        max_output_tokens=0,
        context_window=8192,
        on_demand_regions=frozenset({"us-east-1", "us-west-2"}),
        sources=(_MODELS,),
    ),
)
