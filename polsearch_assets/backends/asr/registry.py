"""The transcription engines by the name ``POLSEARCH_ASR_BACKEND`` gives them: a new engine is one line here."""

from __future__ import annotations

from polsearch_assets.backends.asr.base import Transcriber
from polsearch_assets.backends.asr.faster_whisper import FasterWhisperTranscriber
from polsearch_assets.backends.asr.nemo_tdt import NemoTdtTranscriber

TRANSCRIBERS: dict[str, type[Transcriber]] = {
    "faster-whisper": FasterWhisperTranscriber,
    "nemo-tdt": NemoTdtTranscriber,
}
