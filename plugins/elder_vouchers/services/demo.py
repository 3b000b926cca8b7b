"""Demo data (``jindou demo``)."""


def seed_demo(orgs, users):
    return None
