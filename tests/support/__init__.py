"""Test support: servers and clients shared by the integration and e2e tests."""
