"""``polsearch backfill --stale --dry-run --local``: the stale hearings of this machine's instance, decided
in-process by the code the deployment's ``stale_hearings`` sensor runs (``defs/hearing/stale.py``), with the
same provenance cache in the instance's storage and no time budget."""

from __future__ import annotations

import math

from polsearch_assets.client.models import BackfillPlan
from polsearch_assets.defs.hearing.stale import plan_stale
from polsearch_assets.local.instance import local_instance


def local_stale_plan(limit: int | None = None) -> BackfillPlan:
    from polsearch_assets.definitions import defs  # the code location: only where needed

    with local_instance() as instance:
        found = plan_stale(instance, defs.resolve_asset_graph(), math.inf, limit=limit)
    return BackfillPlan.of(found.plan or {})
