"""Shipping tests: the image, the Helm chart, dashboards and alerts, and the Locust load test."""
