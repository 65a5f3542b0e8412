"""The diarization stage's interface: speech regions -> speaker turns with global SPEAKER_N labels."""

from __future__ import annotations

import logging
from abc import abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from polsearch_assets.backends.engine import Engine
from polsearch_assets.core.audio.speech_frames import FrameScores
from polsearch_assets.core.contracts import Diarization, SpeechRegion


class Diarizer(Engine):
    """Speech regions of a whole hearing -> speaker turns with global, stable SPEAKER_N labels."""

    # The field that POLSEARCH_SPEAKER_THRESHOLD overrides (each engine's own default suits its voice encoder).
    threshold_field: ClassVar[str] = "threshold"

    @property
    def gives_frame_probabilities(self) -> bool:
        """Whether ``diarize`` returns per-frame speaker probabilities (``Diarization.frames``)."""
        return False

    @property
    def reusable_frames(self) -> str | None:
        """The identity of segmentation scores (``speech_frames.npz``, kept by ``vad_chunks``) that this
        diarizer takes instead of running segmentation itself; None when it uses none."""
        return None

    @abstractmethod
    def diarize(
        self,
        wav_path: Path,
        regions: Sequence[SpeechRegion],
        log: logging.Logger,
        frames: FrameScores | None = None,
    ) -> Diarization:
        """``frames``: segmentation scores of the same audio matching ``reusable_frames``, if the VAD kept them."""
