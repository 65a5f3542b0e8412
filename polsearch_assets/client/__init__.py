"""A client for a polsearch deployment's Dagster GraphQL API: plain HTTP, no Dagster import."""

from polsearch_assets.client.api import DagsterApi
from polsearch_assets.client.graphql import GRAPHQL
from polsearch_assets.client.models import (
    AssetState,
    BackfillPlan,
    HearingStatus,
    RunState,
    StepState,
    Submission,
    asset_state,
    missing_plan,
    stale_plan,
)
from polsearch_assets.client.transport import (
    DagsterApiError,
    DagsterTimeout,
    DagsterUnauthorized,
    DagsterUnreachable,
    UnknownHearing,
)
from polsearch_assets.core.contracts import HEARING_ASSETS

__all__ = [
    "GRAPHQL",
    "HEARING_ASSETS",
    "AssetState",
    "BackfillPlan",
    "DagsterApi",
    "DagsterApiError",
    "DagsterTimeout",
    "DagsterUnauthorized",
    "DagsterUnreachable",
    "HearingStatus",
    "RunState",
    "StepState",
    "Submission",
    "UnknownHearing",
    "asset_state",
    "missing_plan",
    "stale_plan",
]
