"""Every resource of the code location, built from one ``Settings``: the union of what each domain binds
(``defs/<domain>/definitions.py``), for tests and tools that run assets outside a code location."""

from __future__ import annotations

from typing import Any

from polsearch_assets.config import Settings
from polsearch_assets.defs.hearing import definitions as hearing
from polsearch_assets.defs.notifications import definitions as notifications
from polsearch_assets.defs.platform import definitions as platform
from polsearch_assets.defs.uploads import definitions as uploads


def build_resources(settings: Settings) -> dict[str, Any]:
    return {
        **platform.resources(settings),
        **hearing.resources(settings),
        **uploads.resources(settings),
        **notifications.resources(settings),
    }
