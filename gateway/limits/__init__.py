"""Limits layer: rate limits and budgets per tenant."""
