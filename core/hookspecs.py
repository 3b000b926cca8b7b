"""The plugin contract: every hook Jindou calls, one docstring each.

Plugins implement these with ``@core.hookimpl`` in their ``__init__.py``.
Hooks are always called with keyword arguments; an implementation may take
any subset of the arguments named here. Event hooks (``*_recorded``,
``*_approved``...) are delivered only to plugins enabled for the
organization the event belongs to.
"""

from __future__ import annotations

from pluggy import HookimplMarker, HookspecMarker

hookspec = HookspecMarker("jindou")
hookimpl = HookimplMarker("jindou")


@hookspec(firstresult=True)
def describe():
    """Describe this plugin: return a :class:`core.plugins.PluginMeta` with its
    name, Chinese and English titles, version, description, the plugins it
    needs and how its URLs name the organization that owns them.

    Called once per plugin when the app loads it; a plugin without it fails to load.
    """


@hookspec
def blueprints():
    """Return a list of Flask blueprints to register at start-up.

    The blueprint's name must be the plugin's name (nested blueprints are
    fine), so that the core can switch its routes off where the plugin is off.
    """


@hookspec
def cli_commands():
    """Return a list of click commands or groups to add to the ``jindou`` command."""


@hookspec
def nav_items(user, org):
    """Return navigation entries (:class:`core.plugins.NavItem`) for ``user``
    looking at ``org``. Only called for plugins enabled at ``org``."""


@hookspec
def dashboard_cards(user, org):
    """Return dashboard cards (:class:`core.plugins.Card`) for ``user``'s home
    page in ``org``. Only called for plugins enabled at ``org``."""


@hookspec
def seed_demo(orgs, users):
    """Add demo data. ``orgs`` maps a short key (``district``, ``community1``,
    ``building1``...) to organizations, ``users`` maps a key (``admin``,
    ``staff``, ``volunteer1``...) to users. Called by ``jindou demo``."""


@hookspec
def service_recorded(org, user, activity_id, title, minutes, verified, points, key):
    """Event: ``user`` served ``minutes`` in ``org`` (an activity, a shift...).

    ``verified`` is true for scanned hours (信用时数), false for back-filled
    honour hours (荣誉时数). ``points`` is what the service earns; ``key`` is a
    stable idempotency key for it. Return the 金豆 actually awarded (or None).
    """


@hookspec
def org_report(org, month):
    """Contribute a section to an organization's monthly report.

    ``month`` is a ``date`` on the first of the month. Return a
    :class:`core.plugins.ReportSection` or None.
    """


@hookspec(firstresult=True)
def scan_token(user, purpose, payload):
    """A logged-in ``user`` scanned a genuine, current QR token of ``purpose``
    (``checkin``, ``checkout``, ``patrol``...) carrying ``payload``.

    The plugin owning that purpose does what the scan means and returns a
    :class:`core.qr.ScanOutcome`; it raises :class:`core.api.ApiError` for a
    scan it refuses (with a clear message and reason code), and returns None
    for purposes it does not own. A repeated scan answers the first result.
    """


@hookspec
def redemption_approved(org, user, redemption_id, reward_name, quantity, total):
    """Event: staff approved ``user``'s redemption of ``quantity`` × ``reward_name``
    in ``org`` (the reward's organization), spending ``total`` 金豆.

    Called after the approval is committed (it is final); whatever a listener
    writes to the session is committed right after. Return value ignored.
    """
