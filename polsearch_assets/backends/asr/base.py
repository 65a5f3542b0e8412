"""The transcription stage's interface: speech chunks -> words on the hearing's timeline."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path

import dagster as dg

from polsearch_assets.config import FromSettings
from polsearch_assets.core.contracts import Chunk, Segment


class Transcriber(FromSettings, dg.ConfigurableResource, ABC):
    """Speech -> words with global-timeline times and confidence, per VAD chunk."""

    @property
    @abstractmethod
    def model_identity(self) -> str: ...

    @abstractmethod
    def transcribe(self, wav_path: Path, chunks: Sequence[Chunk], log: logging.Logger) -> list[Segment]:
        """Segments (with words) for the given vad_chunks entries, ordered by time, indexed from 0."""
