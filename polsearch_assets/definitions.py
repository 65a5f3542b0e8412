"""The polsearch code location: every asset, job and resource is wired here."""

import dagster as dg

from polsearch_assets.assets.audio import raw_audio, vad_chunks
from polsearch_assets.resources.artifacts import LocalArtifactStore
from polsearch_assets.resources.audio import MediaFetcher, VadChunker
from polsearch_assets.settings import artifact_root, env_float

HEARING_ASSETS = [raw_audio, vad_chunks]

hearing_pipeline = dg.define_asset_job(
    "hearing_pipeline",
    selection=dg.AssetSelection.assets(*HEARING_ASSETS),
    description="Every asset of one hearing, from its source to its speech chunks.",
)


def build_resources() -> dict[str, dg.ConfigurableResource]:
    """Resources for the embedded default, tuned by POLSEARCH_* environment variables."""
    return {
        "artifact_store": LocalArtifactStore(root=artifact_root()),
        "media_fetcher": MediaFetcher(
            min_duration_s=env_float("POLSEARCH_MIN_DURATION_S", 1.0),
            max_duration_s=env_float("POLSEARCH_MAX_DURATION_S", 8 * 3600.0),
            socket_timeout_s=env_float("POLSEARCH_SOCKET_TIMEOUT_S", 30.0),
        ),
        "vad": VadChunker(
            threshold=env_float("POLSEARCH_VAD_THRESHOLD", 0.5),
            min_chunk_s=env_float("POLSEARCH_MIN_CHUNK_S", 25.0),
            max_chunk_s=env_float("POLSEARCH_MAX_CHUNK_S", 60.0),
        ),
    }


defs = dg.Definitions(assets=HEARING_ASSETS, jobs=[hearing_pipeline], resources=build_resources())
