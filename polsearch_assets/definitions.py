"""The polsearch code location: each domain folder's definitions, merged, for one ``Settings``.

``defs`` is what ``dagster dev -w workspace.yaml`` and ``dg`` load: the settings are read from the
environment once, here. Tests and tools build a location for any settings with ``build_definitions``.
"""

from __future__ import annotations

import dagster as dg

from polsearch_assets.config import Settings
from polsearch_assets.defs.hearing import definitions as hearing
from polsearch_assets.defs.maintenance import definitions as maintenance
from polsearch_assets.defs.notifications import definitions as notifications
from polsearch_assets.defs.platform import definitions as platform
from polsearch_assets.defs.platform.execution import configured_executor
from polsearch_assets.defs.uploads import definitions as uploads


def build_definitions(settings: Settings) -> dg.Definitions:
    """Each domain's definitions (with the resources it binds), merged, and the executor."""
    return dg.Definitions.merge(
        hearing.definitions(settings),
        uploads.definitions(settings),
        notifications.definitions(settings),
        maintenance.definitions(settings),
        platform.definitions(settings),
        dg.Definitions(executor=configured_executor(settings)),
    )


defs = build_definitions(Settings.from_env())
