"""Service: the one call pipeline behind every model endpoint (plan, fallback, caching,
single-flight, limits, accounting, shadow hand-off), free of HTTP: ``gateway.api`` parses
requests and renders answers around it."""
