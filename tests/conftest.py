"""The suite's fixtures come from Jindou's pytest plugin (core/testing.py),
the same one a third-party plugin's tests use."""

from hypothesis import HealthCheck, settings

pytest_plugins = ["core.testing"]

# The suite runs on busy 2-core machines under xdist: timing is not a property
# under test, so Hypothesis's timing checks (deadline, slow generation) are off.
settings.register_profile(
    "jindou",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("jindou")
