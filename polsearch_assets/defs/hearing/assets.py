"""The hearing assets' specs, built from the settings: one place that says what each stage is.

The bodies live beside this module (``audio``, ``transcripts``, ``index``); here each gets its
partitions, group, kinds, upstream, retries (never of an interrupt), automation, pod placement and ``code_version``. The
code versions come from the resources that are actually bound, so switching a model or backend
marks every hearing's downstream assets stale.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

import dagster as dg

from polsearch_assets.backends.profiles import WORD_SPEAKER_RULES
from polsearch_assets.config import Settings
from polsearch_assets.core.index.segments import COLUMNS_VERSION
from polsearch_assets.defs.hearing.audio import NETWORK_RETRY, raw_audio, vad_chunks
from polsearch_assets.defs.hearing.automation import follow_upstream
from polsearch_assets.defs.hearing.index import INDEX_WRITE_RETRY, hearing_index, word_archive
from polsearch_assets.defs.hearing.naming import VOICEPRINT_LIBRARY, speaker_names
from polsearch_assets.defs.hearing.partitions import hearings_partitions
from polsearch_assets.defs.hearing.retries import retried
from polsearch_assets.defs.hearing.step_clock import timed
from polsearch_assets.defs.hearing.transcripts import (
    aligned_segments,
    diarization,
    diarization_beside_transcript,
    transcript,
)
from polsearch_assets.defs.platform.placement import Placement


def hearing_assets(settings: Settings, resources: Mapping[str, Any]) -> list[dg.AssetsDefinition]:
    """The eight assets of a hearing, in graph order, for these settings and bound resources."""
    placement = Placement(settings)

    def asset(
        body: Callable[..., Any],
        *,
        name: str | None = None,
        follows: bool = True,
        optional: dg.AssetSelection | None = None,
        retry: dg.RetryPolicy | None = None,
        **spec: Any,
    ) -> dg.AssetsDefinition:
        name = name or body.__name__
        body = timed(body)  # every hearing asset's materialization carries its step time and real-time factor
        if retry is not None:
            body = retried(retry)(body)
        return dg.asset(
            name=name,
            partitions_def=hearings_partitions,
            automation_condition=follow_upstream(optional) if follows else None,
            op_tags=placement.step_tags(name),
            pool=placement.step_pool(name),
            **spec,
        )(body)

    rule = resources["word_speakers"].rule
    freshness = timedelta(hours=settings.index_freshness_hours)
    return [
        asset(
            raw_audio,
            follows=False,  # a hearing starts when the uploads sensor, the CLI or the API asks for it
            group_name="audio",
            kinds={"ffmpeg", "yt-dlp"},
            retry=NETWORK_RETRY,
            code_version="raw_audio-v1-16k-mono-s16",
            description="The hearing's recording, fetched (yt-dlp for URLs, a copy for local files) and "
            "normalized by ffmpeg to 16 kHz mono 16-bit WAV, with its source metadata.",
        ),
        asset(
            vad_chunks,
            group_name="audio",
            deps=["raw_audio"],
            kinds={"onnx"},
            code_version=f"vad_chunks-v1:{resources['vad'].model_identity}",
            description="Speech regions (pyannote segmentation-3.0, or silero-vad) cut into 25-60 s chunks at the "
            "longest silence nearest the middle of the allowed window; times in ms on the hearing's timeline.",
        ),
        asset(
            transcript,
            group_name="models",
            deps=["vad_chunks"],
            kinds={"asr"},
            code_version=f"transcript-v1:{resources['transcriber'].model_identity}",
            description="Words with start/end ms (global timeline) and confidence, per VAD chunk, grouped in "
            "ASR segments.",
        ),
        asset(
            # One in-process run steps one at a time: diarization may start the transcript's work beside it.
            diarization_beside_transcript if settings.transcript_beside_diarization else diarization,
            name="diarization",
            group_name="models",
            deps=["vad_chunks"],
            kinds={"diarization"},
            # v2: each speaker's voice embedding and speaking time are kept (speaker_names matches them).
            code_version=f"diarization-v2:{resources['diarizer'].model_identity}",
            description="Speaker turns on the global timeline with SPEAKER_N labels numbered by first appearance, "
            "and each speaker's voice (the diarizer's speaker encoder averaged over its speech) and speaking time.",
        ),
        asset(
            aligned_segments,
            group_name="models",
            deps=["transcript", "diarization"],
            kinds={"python"},
            code_version=f"aligned_segments-v1:{rule}:phrase200ms/4s:pause1.5s:15-30s",
            description=f"{WORD_SPEAKER_RULES[rule]}; a speaker change inside a phrase moves to its nearest "
            "pause; words grouped into segments that break at speaker changes, pauses over 1.5 s and 15-30 s "
            "(at sentence ends when possible).",
        ),
        asset(
            speaker_names,
            optional=dg.AssetSelection.assets(VOICEPRINT_LIBRARY),
            group_name="naming",
            deps=["diarization", "aligned_segments", VOICEPRINT_LIBRARY],
            kinds={"python"},
            code_version=f"speaker_names-v1:{resources['speaker_matching'].identity}:assignment:cues-v1",
            description="Each hearing speaker matched to the voiceprint library (cosine similarity to every "
            "voiceprint of every person, a calibrated threshold, at most one speaker per person), and the "
            "introductions heard in the transcript as suggestions. No audio model runs; re-runs when the "
            "library changes.",
        ),
        asset(
            hearing_index,
            group_name="index",
            deps=["aligned_segments", "speaker_names"],
            kinds={"lancedb"},
            retry=INDEX_WRITE_RETRY,
            freshness_policy=dg.FreshnessPolicy.time_window(fail_window=freshness, warn_window=freshness / 2),
            code_version=f"hearing_index-v2:{COLUMNS_VERSION}:{resources['embedder'].model_identity}",
            description="Segment embeddings and LanceDB rows for this hearing, with people's names where "
            "speaker_names knows them, replaced in one commit on re-materialization (none when nothing changed).",
        ),
        asset(
            word_archive,
            group_name="index",
            deps=["aligned_segments"],
            kinds={"parquet"},
            code_version="word_archive-v1",
            description="Every word with its times, confidence and speaker (Parquet), kept for later "
            "re-segmentation.",
        ),
    ]
