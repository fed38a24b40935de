"""Shadow layer: copy a share of a route's answered requests to other models in the background
and compare them with the answering model (calls, errors, latency, cost, agreement).

Modules: ``eligibility`` and ``agreement`` (pure), ``calls`` (one shadow Bedrock call),
``stats_store`` / ``redis_store`` (aggregates in memory or Redis), ``runner`` (``ShadowRunner``,
the ``ShadowHook`` the chat endpoint calls), ``report`` (the JSON of ``GET /v1/gateway/shadow``),
``metrics`` (the ``gateway_shadow_*`` families). Nothing here runs at import time.
"""
