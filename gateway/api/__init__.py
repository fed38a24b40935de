"""API layer: FastAPI routers for the OpenAI-compatible endpoints and the gateway's own."""
