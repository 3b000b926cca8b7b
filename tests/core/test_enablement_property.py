"""Enablement inheritance, property-based: random trees, random switches,
compared with a naive reference that walks parent pointers."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from core.extensions import db
from core.models import LEVELS, Organization, OrgPlugin
from core.orgs.services import inheriting_below
from core.orgs.tree import level_matrix
from core.testing import make_org
from tests.core.test_plugins import EchoPlugin

PLUGINS = ["alpha", "beta"]


@st.composite
def trees_and_switches(draw):
    parents = [None]  # node 0 is the district
    depths = [0]
    for _ in range(draw(st.integers(0, 25))):
        candidates = [i for i, d in enumerate(depths) if d < len(LEVELS) - 1]
        parent = draw(st.sampled_from(candidates))
        parents.append(parent)
        depths.append(depths[parent] + 1)
    switches = draw(
        st.dictionaries(
            st.tuples(st.integers(0, len(parents) - 1), st.sampled_from(PLUGINS)),
            st.booleans(),
            max_size=12,
        )
    )
    return parents, depths, switches


def reference_state(node, plugin, parents, switches):
    while node is not None:
        if (node, plugin) in switches:
            return switches[(node, plugin)], node
        node = parents[node]
    return False, None


def _is_below(node, above, parents):
    """Is ``node`` strictly below ``above``?"""
    node = parents[node]
    while node is not None:
        if node == above:
            return True
        node = parents[node]
    return False


def _set_between(node, above, plugin, parents, switches):
    """Does ``node`` or an ancestor strictly below ``above`` switch ``plugin``?"""
    while node is not None and node != above:
        if (node, plugin) in switches:
            return True
        node = parents[node]
    return False


def test_hypothesis_enablement_matches_reference(make_app):
    app = make_app(plugins=[EchoPlugin(name) for name in PLUGINS])
    manager = app.extensions["jindou_plugins"]

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(trees_and_switches())
    def check(case):
        parents, depths, switches = case
        with app.app_context():
            orgs = []
            for i, (parent, depth) in enumerate(zip(parents, depths, strict=True)):
                orgs.append(
                    make_org(
                        f"n{i}", LEVELS[depth].value, orgs[parent] if parent is not None else None
                    )
                )
            for (node, plugin), enabled in switches.items():
                db.session.add(OrgPlugin(org_id=orgs[node].id, plugin=plugin, enabled=enabled))
            db.session.flush()
            try:
                # the matrix, one level at a time: each organization's own row and
                # its children's rows must agree with the reference
                matrix = {}
                for node, org in enumerate(orgs):
                    level = level_matrix(manager, org, limit=1000)
                    for row in [level.org, *level.children]:
                        matrix.setdefault(row.org.id, []).append(row.states)
                    assert level.org.below == sum(
                        1 for j in range(len(orgs)) if _is_below(j, node, parents)
                    )
                    for plugin in PLUGINS:  # who a switch here reaches
                        assert inheriting_below(org, plugin) == sum(
                            1
                            for j in range(len(orgs))
                            if _is_below(j, node, parents)
                            and not _set_between(j, node, plugin, parents, switches)
                        )
                    for row in [level.org, *level.children]:
                        r = orgs.index(row.org)
                        for plugin in PLUGINS:
                            opposite = not reference_state(r, plugin, parents, switches)[0]
                            assert row.differ(plugin) == sum(
                                1
                                for (n, p), on in switches.items()
                                if p == plugin and on is opposite and _is_below(n, r, parents)
                            )
                for i, org in enumerate(orgs):
                    for plugin in PLUGINS:
                        enabled, source = reference_state(i, plugin, parents, switches)
                        expected = (enabled, orgs[source].id if source is not None else None)
                        state = manager.states(org)[plugin]
                        assert (state.enabled, state.source_org_id) == expected
                        assert manager.is_enabled(org, plugin) is enabled
                        for states in matrix[org.id]:
                            in_matrix = states[plugin]
                            assert (in_matrix.enabled, in_matrix.source_org_id) == expected
            finally:
                db.session.rollback()
                db.session.execute(delete(OrgPlugin))
                db.session.execute(delete(Organization))
                db.session.commit()

    check()
