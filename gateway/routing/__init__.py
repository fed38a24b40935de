"""Routing layer (pure): policy models, loading, and the decision engine."""
