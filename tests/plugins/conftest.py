"""A plugin's test folder is not even entered when the run leaves the plugin
out: its conftest.py may import the plugin's models, which would join the
metadata that test_migrations compares with the migrations."""

from pathlib import Path

from core.testing import plugin_wanted

collect_ignore = [
    folder.name
    for folder in Path(__file__).parent.iterdir()
    if folder.is_dir() and (folder / "__init__.py").exists() and not plugin_wanted(folder.name)
]
