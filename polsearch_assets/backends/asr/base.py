"""The transcription stage's interface: speech chunks -> words on the hearing's timeline."""

from __future__ import annotations

import logging
from abc import abstractmethod
from collections.abc import Sequence
from pathlib import Path

from polsearch_assets.backends.engine import Engine
from polsearch_assets.core.contracts import Chunk, Segment


class Transcriber(Engine):
    """Speech -> words with global-timeline times and confidence, per VAD chunk."""

    @abstractmethod
    def transcribe(self, wav_path: Path, chunks: Sequence[Chunk], log: logging.Logger) -> list[Segment]:
        """Segments (with words) for the given vad_chunks entries, ordered by time, indexed from 0."""
