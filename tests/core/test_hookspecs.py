"""As in datasette: every hook is documented and has a test of its own."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from core import hookspecs

TESTS = Path(__file__).resolve().parent.parent
HOOKS = sorted(name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
               if hasattr(fn, "jindou_spec"))


def test_there_are_hooks():
    assert {"describe", "blueprints", "nav_items", "service_recorded"} <= set(HOOKS)


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_documented(hook):
    doc = inspect.getdoc(getattr(hookspecs, hook))
    assert doc and len(doc) > 40, f"hook {hook} needs a docstring saying what it is for"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_test(hook):
    needle = f"def test_hook_{hook}"
    found = any(needle in path.read_text(encoding="utf-8") for path in TESTS.rglob("test_*.py"))
    assert found, f"no test named test_hook_{hook}*"
