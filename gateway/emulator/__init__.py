"""Emulator: a Bedrock Runtime stand-in for tests, the demo and benchmarks (not for production)."""
