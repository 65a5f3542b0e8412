"""The LanceDB database as a resource: the segment index, and the voiceprint library beside it."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from polsearch_assets.backends.loading import preload
from polsearch_assets.config import FromSettings, setting
from polsearch_assets.core.index.segments import SegmentIndex
from polsearch_assets.core.index.voiceprints import VoiceprintLibrary


class LanceIndex(FromSettings, dg.ConfigurableResource):
    uri: str = Field(
        description="LanceDB directory or URI holding the `segments` and `voiceprints` tables (POLSEARCH_LANCEDB_URI)."
    )
    vector_index_min_rows: int = Field(
        default=50_000, description="Build the IVF_SQ vector index once the table has this many rows."
    )
    endpoint_url: str = setting("s3_endpoint_url")
    region: str = setting("s3_region")

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # LanceDB's import (pyarrow and its Rust core, 1.5-4 CPU s) starts with the run, on a loader thread,
        # instead of on the critical path when speaker_names first opens the library (BENCHMARKS.md, issue 25).
        preload("lancedb")

    def open(self, dimension: int | None = None) -> SegmentIndex:
        """The index; ``dimension`` (the embedder's) is needed only by writers, to create the table."""
        return SegmentIndex(
            self.uri,
            dimension,
            self.vector_index_min_rows,
            storage_options=lance_storage_options(self.uri, self.endpoint_url, self.region),
        )

    def library(self) -> VoiceprintLibrary:
        """The voiceprint library, in the same database as the segments."""
        return VoiceprintLibrary(self.uri, lance_storage_options(self.uri, self.endpoint_url, self.region))


def lance_storage_options(uri: str, endpoint_url: str, region: str) -> dict[str, str] | None:
    """LanceDB's object-store options for an s3:// URI; credentials stay in the environment (AWS_*)."""
    if not uri.startswith("s3://"):
        return None
    options = {}
    if endpoint_url:
        options["endpoint"] = endpoint_url
        if endpoint_url.startswith("http://"):
            options["allow_http"] = "true"  # a local S3 server (tests, MinIO on the cluster network)
    if region:
        options["region"] = region
    return options
