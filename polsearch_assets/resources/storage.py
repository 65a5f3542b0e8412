"""Where artifacts and the index live, chosen by environment: a local directory or an s3:// URI."""

from __future__ import annotations

from polsearch_assets.resources.artifacts import ArtifactStore, LocalArtifactStore
from polsearch_assets.resources.index import LanceIndex
from polsearch_assets.resources.object_storage import S3ArtifactStore, split_s3_uri
from polsearch_assets.settings import artifact_root, env_str, lancedb_uri


def _s3_endpoint_and_region() -> tuple[str, str]:
    return env_str("POLSEARCH_S3_ENDPOINT_URL", ""), env_str("POLSEARCH_S3_REGION", "")


def configured_artifact_store() -> ArtifactStore:
    """POLSEARCH_ARTIFACT_ROOT: a directory (default) or ``s3://bucket/prefix``."""
    root = artifact_root()
    if root.startswith("s3://"):
        bucket, prefix = split_s3_uri(root)
        endpoint_url, region = _s3_endpoint_and_region()
        return S3ArtifactStore(bucket=bucket, prefix=prefix, endpoint_url=endpoint_url, region=region)
    return LocalArtifactStore(root=root)


def configured_lance_index() -> LanceIndex:
    """POLSEARCH_LANCEDB_URI: a directory (default) or ``s3://bucket/prefix``."""
    endpoint_url, region = _s3_endpoint_and_region()
    return LanceIndex(uri=lancedb_uri(), endpoint_url=endpoint_url, region=region)
