"""The hearing assets in graph order, and the job that runs all of them for one hearing."""

import dagster as dg

from polsearch_assets.assets.audio import raw_audio, vad_chunks
from polsearch_assets.assets.hearing import (
    aligned_segments,
    diarization,
    hearing_index,
    transcript,
    word_archive,
)

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
    description="Every asset of one hearing, from its source to its index rows, with their checks.",
)
