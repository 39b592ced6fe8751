"""Test helpers: tiny random models, an independent reference implementation, writers."""
