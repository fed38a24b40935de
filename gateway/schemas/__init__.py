"""Schemas layer: pydantic models of the OpenAI wire format."""
