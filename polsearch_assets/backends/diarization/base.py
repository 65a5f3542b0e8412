"""The diarization stage's interface: speech regions -> speaker turns with global SPEAKER_N labels."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path

import dagster as dg

from polsearch_assets.core.contracts import Diarization, SpeechRegion


class Diarizer(dg.ConfigurableResource, ABC):
    """Speech regions of a whole hearing -> speaker turns with global, stable SPEAKER_N labels."""

    @property
    @abstractmethod
    def model_identity(self) -> str: ...

    @property
    def gives_frame_probabilities(self) -> bool:
        """Whether ``diarize`` returns per-frame speaker probabilities (``Diarization.frames``)."""
        return False

    @abstractmethod
    def diarize(
        self, wav_path: Path, regions: Sequence[SpeechRegion], log: logging.Logger
    ) -> Diarization: ...
