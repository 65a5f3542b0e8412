"""The polsearch code location: every asset, job and resource is wired here."""

import dagster as dg

from polsearch_assets.assets.audio import raw_audio, vad_chunks
from polsearch_assets.assets.hearing import (
    aligned_segments,
    diarization,
    hearing_index,
    transcript,
    word_archive,
)
from polsearch_assets.resources.artifacts import LocalArtifactStore
from polsearch_assets.resources.audio import MediaFetcher, VadChunker
from polsearch_assets.resources.backends import configured_backends
from polsearch_assets.resources.index import LanceIndex
from polsearch_assets.settings import artifact_root, env_float, lancedb_uri

HEARING_ASSETS = [
    raw_audio,
    vad_chunks,
    transcript,
    diarization,
    aligned_segments,
    hearing_index,
    word_archive,
]

hearing_pipeline = dg.define_asset_job(
    "hearing_pipeline",
    selection=dg.AssetSelection.assets(*HEARING_ASSETS),
    description="Every asset of one hearing, from its source to its index rows.",
)


def build_resources() -> dict[str, dg.ConfigurableResource]:
    """Resources for the embedded default, tuned by POLSEARCH_* environment variables."""
    backends = configured_backends()
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
        "transcriber": backends.transcriber,
        "diarizer": backends.diarizer,
        "embedder": backends.embedder,
        "lance_index": LanceIndex(uri=lancedb_uri()),
    }


defs = dg.Definitions(assets=HEARING_ASSETS, jobs=[hearing_pipeline], resources=build_resources())
