"""``jindou plugin new NAME``: a new plugin in the house shape (docs/plugins.md).

The files are ``string.Template`` texts under ``files/`` (``$name``,
``$package``...), so they read as the code they become. The plugin's first
migration depends on core's current head, read from core's own revisions.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from string import Template

FILES = Path(__file__).parent / "files"
ROOT = Path(__file__).resolve().parent.parent.parent
NAME = re.compile(r"[a-z][a-z0-9_]{0,29}")
# Not blueprint names, but names a plugin must not take either (URL prefixes, packages).
RESERVED = {"core", "plugins", "tests", "static", "api", "lang", "c", "migrations", "scaffold"}


class ScaffoldError(ValueError):
    pass


@dataclass(frozen=True)
class Scaffold:
    package_dir: Path
    tests_dir: Path
    package: str  # the import name: plugins.<name> in this repository, <name> alone outside
    files: list[Path]

    def entry_point(self, name: str) -> str:
        return f'[project.entry-points."jindou.plugins"]\n{name} = "{self.package}"'


def check_name(name: str, taken: set[str]) -> None:
    """A plugin name is a short lowercase identifier no plugin or core blueprint uses."""
    if not NAME.fullmatch(name) or keyword.iskeyword(name) or name.endswith("_"):
        raise ScaffoldError(
            f"{name!r} is not a valid plugin name: lowercase letters, digits "
            "and underscores, starting with a letter, at most 30 characters"
        )
    if name in taken or name in RESERVED:
        raise ScaffoldError(f"{name!r} is already taken (an installed plugin or part of core)")


def core_head() -> str:
    """Core's one head revision: a new plugin's first migration depends on it."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(ROOT / "migrations"))
    heads = ScriptDirectory.from_config(config).get_heads()
    if len(heads) != 1:
        raise ScaffoldError(f"core's migrations have {len(heads)} heads; merge them first")
    return heads[0]


def _text(value: str, what: str) -> str:
    if not value or any(c in value for c in '"\\$\n\r`') or "{%" in value or "{{" in value:
        raise ScaffoldError(f"{what} {value!r}: no quotes, backslashes, dollars or template marks")
    return value


def create(
    name: str,
    *,
    taken: set[str],
    path: Path | None = None,
    title: str | None = None,
    title_en: str | None = None,
    description: str = "一个新插件",
) -> Scaffold:
    """Write the plugin. Without ``path``: ``plugins/<name>/`` and
    ``tests/plugins/<name>/`` under the current directory (this repository);
    with it: a stand-alone package ``<path>/<name>/`` and its ``<path>/tests/``."""
    check_name(name, taken)
    if path is None:
        package, package_dir, tests_dir = (
            f"plugins.{name}",
            Path("plugins") / name,
            Path("tests") / "plugins" / name,
        )
        if not Path("plugins/__init__.py").is_file():
            raise ScaffoldError("run this at the root of the Jindou repository, or give --path")
    else:
        package, package_dir, tests_dir = name, Path(path) / name, Path(path) / "tests"
    for target in (package_dir, tests_dir / "conftest.py"):
        if target.exists():
            raise ScaffoldError(f"{target} already exists")
    values = {
        "name": name,
        "package": package,
        "title": _text(title or name, "title"),
        "title_en": _text(title_en or name.replace("_", " ").title(), "title_en"),
        "description": _text(description, "description"),
        "core_head": core_head(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),
        # pytest takes pytest_plugins from the top conftest only: this repository's
        # tests/conftest.py has it; a stand-alone plugin's tests/conftest.py is the top.
        "pytest_plugins": "" if path is None else '\npytest_plugins = ["core.testing"]\n',
    }
    plan = {
        "__init__.py.tmpl": package_dir / "__init__.py",
        "models.py.tmpl": package_dir / "models.py",
        "services/__init__.py.tmpl": package_dir / "services" / "__init__.py",
        "schemas.py.tmpl": package_dir / "schemas.py",
        "views.py.tmpl": package_dir / "views.py",
        "pages.py.tmpl": package_dir / "pages.py",
        "cli.py.tmpl": package_dir / "cli.py",
        "README.md.tmpl": package_dir / "README.md",
        "migrations/0001_tables.py.tmpl": package_dir / "migrations" / f"0001_{name}_tables.py",
        "templates/index.html.tmpl": package_dir / "templates" / name / "index.html",
        "tests/conftest.py.tmpl": tests_dir / "conftest.py",
        "tests/test_plugin.py.tmpl": tests_dir / f"test_{name}.py",
    }
    written = []
    for source, target in plan.items():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(
            Template((FILES / source).read_text(encoding="utf-8")).substitute(values),
            encoding="utf-8",
        )
        written.append(target)
    if path is None:  # the repository's tests are packages (tests.plugins.<name>)
        (tests_dir / "__init__.py").touch()
        written.append(tests_dir / "__init__.py")
    return Scaffold(package_dir, tests_dir, package, written)
