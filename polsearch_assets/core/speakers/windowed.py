"""Diarizing a hearing in overlapping windows with a model that tracks few speakers at once.

The model diarizes each window on its own (local speaker labels); each window speaker gets a voice
embedding from its longest turns; ``linking.link_speakers`` joins them into the hearing's speakers;
turns and per-frame probabilities are kept in each window's core and numbered by first appearance.
The model and the voice encoder come in as functions, so this runs and is tested without either.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

import numpy as np

from polsearch_assets.core.contracts import Diarization, Turn
from polsearch_assets.core.speakers.clustering import relabel_by_first_appearance
from polsearch_assets.core.speakers.linking import (
    LocalSpeaker,
    Window,
    diarization_windows,
    global_name,
    link_speakers,
    stitch_frames,
    stitch_turns,
)

# One window's turns (global timeline, local labels) and per-frame probabilities [frames, slots].
WindowDiarizer = Callable[[Window], tuple[list[Turn], np.ndarray]]
# A voice embedding of the speech in the given turns.
VoiceEmbedder = Callable[[Sequence[Turn]], np.ndarray]


def voice_turns(turns: Sequence[Turn], label: str, max_speech_ms: int) -> list[Turn]:
    """The speaker's longest turns, up to about ``max_speech_ms`` of speech: enough to know a voice by."""
    own = sorted((t for t in turns if t.speaker == label), key=lambda t: t.end_ms - t.start_ms, reverse=True)
    chosen, total = [], 0
    for turn in own:
        if total >= max_speech_ms:
            break
        chosen.append(turn)
        total += turn.end_ms - turn.start_ms
    return chosen


def linked_voices(
    speakers: Sequence[LocalSpeaker], identities: Mapping[tuple[int, str], int]
) -> dict[str, np.ndarray]:
    """Each hearing speaker's voice (named ``G<id>`` like the stitched turns): its window speakers' unit
    embeddings weighted by their speech, as linking weighed them."""
    sums: dict[str, np.ndarray] = {}
    for speaker in speakers:
        name = global_name(identities[(speaker.window, speaker.label)])
        unit = speaker.embedding / max(float(np.linalg.norm(speaker.embedding)), 1e-9)
        sums[name] = sums.get(name, 0.0) + unit * max(speaker.speech_ms, 1)
    return sums


def diarize_in_windows(
    duration_ms: int,
    *,
    window_ms: int,
    overlap_ms: int,
    slots: int,
    frame_ms: int,
    diarize_window: WindowDiarizer,
    embed: VoiceEmbedder,
    link_threshold: float,
    max_speakers: int,
    max_voice_ms: int,
    voice_encoder: str,
    log: logging.Logger,
) -> Diarization:
    """The hearing's speakers from windowed diarization (``window_ms`` 0: one window, no linking needed)."""
    local_labels = [f"speaker_{k}" for k in range(slots)]  # the model's names for its output columns
    windows = diarization_windows(duration_ms, window_ms, overlap_ms)
    window_turns: dict[int, list[Turn]] = {}
    window_probabilities: dict[int, np.ndarray] = {}
    speakers: list[LocalSpeaker] = []
    full = 0
    for window in windows:
        turns, probabilities = diarize_window(window)
        window_turns[window.index], window_probabilities[window.index] = turns, probabilities
        for label in sorted({t.speaker for t in turns}):
            speech_ms = sum(t.end_ms - t.start_ms for t in turns if t.speaker == label)
            voice = embed(voice_turns(turns, label, max_voice_ms))
            speakers.append(LocalSpeaker(window.index, label, voice, speech_ms))
        heard = len({t.speaker for t in turns})
        full += heard >= slots
        log.info(f"diarized window {window.index + 1}/{len(windows)}: {heard} speakers, {len(turns)} turns")
    identities = link_speakers(speakers, link_threshold, max_speakers)
    log.info(f"linked {len(speakers)} window speakers into {len(set(identities.values()))} speakers")
    if full:
        # A window whose every slot is taken may have had more voices than the model tracks at once.
        log.warning(
            f"{full} of {len(windows)} windows used all {slots} speaker slots of the model; "
            "if speakers are merged there, shorten POLSEARCH_DIAR_WINDOW_S"
        )
    frames = stitch_frames(windows, window_probabilities, local_labels, identities, duration_ms, frame_ms)
    result = relabel_by_first_appearance(
        stitch_turns(windows, window_turns, identities),
        frames,
        voices=linked_voices(speakers, identities),
        voice_encoder=voice_encoder,
    )
    details = {
        "windows": len(windows),
        "window_speakers": len(speakers),
        "windows_at_model_capacity": full,
        "frame_ms": frame_ms,
    }
    return replace(result, details=details)
