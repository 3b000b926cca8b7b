"""One level of the tree at a time: an organization's direct children with
counts of what lies below each, and the plugin matrix of that level.

A district holds tens of thousands of organizations: pages never load the
subtree. They show the children of one organization, each with grouped
counts computed in SQL over the materialized path, and link one level down.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, select

from core.extensions import db
from core.models import Membership, Organization, OrgPlugin, Role, User
from core.plugins import PluginManager, PluginState

CHILDREN_PAGE = 50


def _child_key(org: Organization):
    """SQL: the id (as text) of the child of ``org`` that a row of its subtree
    lies in, cut out of the path after ``org``'s own prefix."""
    rest = func.substr(Organization.path, len(org.path) + 1)
    if db.engine.dialect.name == "postgresql":
        return func.split_part(rest, "/", 1)
    return func.substr(rest, 1, func.instr(rest, "/") - 1)


def _below(org: Organization):
    """SQL condition: strictly below ``org`` (prefix match, the path index)."""
    return Organization.path.startswith(org.path, autoescape=True) & (Organization.id != org.id)


def children_page(
    org: Organization,
    after_id: int | None = None,
    limit: int | None = None,
    only: Sequence[int] | None = None,
) -> tuple[Sequence[Organization], int | None]:
    """A page of ``org``'s direct children by id (``only``: just those ids),
    and the id to continue after (None on the last page)."""
    limit = limit or CHILDREN_PAGE
    stmt = select(Organization).where(Organization.parent_id == org.id)
    if only is not None:
        stmt = stmt.where(Organization.id.in_(only))
    if after_id is not None:
        stmt = stmt.where(Organization.id > after_id)
    rows = db.session.scalars(stmt.order_by(Organization.id).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more else None)


def below_counts(org: Organization) -> dict[int, int]:
    """Child id -> how many organizations lie below that child: one grouped query
    over ``org``'s subtree."""
    key = _child_key(org)
    rows = db.session.execute(select(key, func.count()).where(_below(org)).group_by(key)).all()
    return {int(child): count - 1 for child, count in rows}  # minus the child itself


def child_counts(parent_ids: Sequence[int]) -> dict[int, int]:
    """Organization id -> how many organizations sit directly below it: one
    grouped query on the parent index, however large the subtrees are."""
    if not parent_ids:
        return {}
    rows = db.session.execute(
        select(Organization.parent_id, func.count())
        .where(Organization.parent_id.in_(parent_ids))
        .group_by(Organization.parent_id)
    ).all()
    return {parent: count for parent, count in rows if parent is not None}


def branches_towards(user: User, org: Organization) -> list[int]:
    """The children of ``org`` that lead to one of ``user``'s organizations:
    what a resident looking at an organization above them may open."""
    depth = len(org.ancestor_ids)
    paths = db.session.scalars(
        select(Organization.path)
        .join(Membership, Membership.org_id == Organization.id)
        .where(Membership.user_id == user.id, _below(org))
    ).all()
    return sorted({int(p.strip("/").split("/")[depth]) for p in paths})


def ancestors(org: Organization) -> Sequence[Organization]:
    """``org``'s ancestors from the top, without itself: one query."""
    return db.session.scalars(
        select(Organization)
        .where(Organization.id.in_(org.ancestor_ids[:-1]))
        .order_by(Organization.path)
    ).all()


def admin_reach(user: User, org: Organization) -> int:
    """The id of the highest organization on ``org``'s branch that ``user`` is
    admin of (their plugin matrix opens), or 0 when none: one query."""
    if user.is_platform_admin:
        return org.ancestor_ids[0]
    held = set(
        db.session.scalars(
            select(Membership.org_id).where(
                Membership.user_id == user.id,
                Membership.role == Role.admin.value,
                Membership.org_id.in_(org.ancestor_ids),
            )
        )
    )
    return next((i for i in org.ancestor_ids if i in held), 0)


# -- the plugin matrix, one level ----------------------------------------------------


@dataclass
class MatrixRow:
    """An organization of the matrix: its effective states and, per plugin, how
    many organizations below it switch the plugin on and off themselves."""

    org: Organization
    below: int
    states: dict[str, PluginState]
    set_on: dict[str, int] = field(default_factory=dict)
    set_off: dict[str, int] = field(default_factory=dict)

    def differ(self, name: str) -> int:
        """Switches below that set the opposite of the state here."""
        return (self.set_off if self.states[name].enabled else self.set_on).get(name, 0)


@dataclass
class LevelMatrix:
    org: MatrixRow
    children: list[MatrixRow]
    next_after: int | None


def level_matrix(
    manager: PluginManager,
    org: Organization,
    after_id: int | None = None,
    limit: int | None = None,
) -> LevelMatrix:
    """``org``'s row and a page of its direct children, each with its count of
    organizations below, every plugin's effective state and the explicit
    switches below it. Four queries, whatever the size of the subtree."""
    children, next_after = children_page(org, after_id, limit)
    counts = below_counts(org)
    explicit = _explicit(org, [c.id for c in children])
    names = list(manager.meta)
    here = _inherit(names, org, explicit, None)
    rows = [MatrixRow(c, counts.get(c.id, 0), _inherit(names, c, explicit, here)) for c in children]
    top = MatrixRow(org, sum(n + 1 for n in counts.values()), here)
    by_child = {r.org.id: r for r in rows}
    for child_id, name, enabled, count in _switches_below(org):
        setter = top.set_on if enabled else top.set_off
        setter[name] = setter.get(name, 0) + count
        row = by_child.get(child_id)
        if row is None:
            continue
        if explicit.get((child_id, name)) is enabled:
            count -= 1  # the child's own switch is "set here", not below it
        setter = row.set_on if enabled else row.set_off
        setter[name] = setter.get(name, 0) + count
    return LevelMatrix(top, rows, next_after)


def _explicit(org: Organization, child_ids: list[int]) -> dict[tuple[int, str], bool]:
    """The switches at ``org``, its ancestors and the given children: one query."""
    rows = db.session.execute(
        select(OrgPlugin.org_id, OrgPlugin.plugin, OrgPlugin.enabled).where(
            OrgPlugin.org_id.in_([*org.ancestor_ids, *child_ids])
        )
    ).all()
    return {(org_id, plugin): enabled for org_id, plugin, enabled in rows}


def _inherit(
    names: list[str],
    org: Organization,
    explicit: dict[tuple[int, str], bool],
    parent: dict[str, PluginState] | None,
) -> dict[str, PluginState]:
    """Effective states at ``org``: its own switch, else its parent's state
    (``parent`` given) or the nearest ancestor's switch (walking the path)."""
    chain = [org.id] if parent is not None else list(reversed(org.ancestor_ids))
    states = {}
    for name in names:
        found = next((i for i in chain if (i, name) in explicit), None)
        if found is not None:
            states[name] = PluginState(name, explicit[(found, name)], found)
        elif parent is not None:
            states[name] = parent[name]
        else:
            states[name] = PluginState(name, False, None)
    return states


def _switches_below(org: Organization):
    """(child id, plugin, enabled, count) of the switches strictly below ``org``,
    grouped by the child they lie under: one query."""
    key = _child_key(org)
    rows = db.session.execute(
        select(key, OrgPlugin.plugin, OrgPlugin.enabled, func.count())
        .join(Organization, Organization.id == OrgPlugin.org_id)
        .where(_below(org))
        .group_by(key, OrgPlugin.plugin, OrgPlugin.enabled)
    ).all()
    return [(int(child), name, bool(enabled), count) for child, name, enabled, count in rows]
