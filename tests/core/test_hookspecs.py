"""As in datasette: every hook is documented and has a test of its own."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from core import hookspecs

TESTS = Path(__file__).resolve().parent.parent
HOOKS = sorted(
    name
    for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
    if hasattr(fn, "jindou_spec")
)


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


PLUGIN_DOCS = TESTS.parent / "docs" / "plugins.md"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_section_in_the_plugin_docs(hook):
    sections = {
        line[4:].strip()
        for line in PLUGIN_DOCS.read_text(encoding="utf-8").splitlines()
        if line.startswith("### ")
    }
    assert hook in sections, f"docs/plugins.md needs a '### {hook}' section with an example"


def test_the_plugin_docs_name_no_hook_that_does_not_exist():
    text = PLUGIN_DOCS.read_text(encoding="utf-8")
    every_hook = text.split("## Every hook", 1)[1]
    documented = {line[4:].strip() for line in every_hook.splitlines() if line.startswith("### ")}
    assert documented == set(HOOKS)


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_example_compiles_and_takes_only_the_spec_arguments(hook):
    """The example under ``### <hook>`` defines that hook with arguments the spec has."""
    import ast

    section = PLUGIN_DOCS.read_text(encoding="utf-8").split(f"### {hook}\n", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    tree = ast.parse(code)
    defined = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
    assert [d.name for d in defined] == [hook]
    spec_args = set(inspect.signature(getattr(hookspecs, hook)).parameters)
    assert {a.arg for a in defined[0].args.args} <= spec_args
    assert not defined[0].args.defaults, "pluggy passes no argument that has a default"
