"""The suite's fixtures come from Jindou's pytest plugin (core/testing.py),
the same one a third-party plugin's tests use."""

pytest_plugins = ["core.testing"]
