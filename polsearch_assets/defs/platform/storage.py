"""Where artifacts and the index live: a local directory or an s3:// URI, from the settings."""

from __future__ import annotations

from polsearch_assets.config import Settings
from polsearch_assets.defs.platform.artifacts import ArtifactStoreResource, LocalArtifactStore
from polsearch_assets.defs.platform.index import LanceIndex
from polsearch_assets.defs.platform.object_storage import S3ArtifactStore, split_s3_uri


def configured_artifact_store(settings: Settings) -> ArtifactStoreResource:
    """POLSEARCH_ARTIFACT_ROOT: a directory (default) or ``s3://bucket/prefix``."""
    root = settings.resolved_artifact_root()
    if root.startswith("s3://"):
        bucket, prefix = split_s3_uri(root)
        return S3ArtifactStore.from_settings(settings, bucket=bucket, prefix=prefix)
    return LocalArtifactStore(root=root)


def configured_lance_index(settings: Settings) -> LanceIndex:
    """POLSEARCH_LANCEDB_URI: a directory (default) or ``s3://bucket/prefix``."""
    return LanceIndex.from_settings(settings, uri=settings.resolved_lancedb_uri())
