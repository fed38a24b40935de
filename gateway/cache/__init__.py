"""Cache layer: response cache keys, in-memory and Redis stores, single-flight."""
