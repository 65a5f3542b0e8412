"""The LanceDB segment index as a resource."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from polsearch_assets.search_index import SegmentIndex


class LanceIndex(dg.ConfigurableResource):
    uri: str = Field(
        description="LanceDB directory or URI holding the `segments` table (POLSEARCH_LANCEDB_URI)."
    )
    vector_index_min_rows: int = Field(
        default=50_000, description="Build the IVF_PQ vector index once the table has this many rows."
    )

    def open(self, dimension: int | None = None) -> SegmentIndex:
        """The index; ``dimension`` (the embedder's) is needed only by writers, to create the table."""
        return SegmentIndex(self.uri, dimension, self.vector_index_min_rows)
