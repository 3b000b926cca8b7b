"""Browser and HTTP tests that import a plugin's modules at the top are not
even collected when the run leaves that plugin out: importing its models
would add its tables to the metadata that test_migrations compares."""

from core.testing import plugin_wanted

PLUGIN_MODULES = {"test_checkin_flow.py": "volunteering", "test_meals_counter_phone.py": "meals"}

collect_ignore = [name for name, plugin in PLUGIN_MODULES.items() if not plugin_wanted(plugin)]
