"""Jindou's built-in plugins. Each is found through the ``jindou.plugins`` entry points."""
