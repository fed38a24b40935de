"""Providers layer: the Bedrock Runtime client (signing, transport, event streams)."""
