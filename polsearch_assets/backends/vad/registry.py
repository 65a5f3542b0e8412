"""The speech detectors by the name ``POLSEARCH_VAD_BACKEND`` gives them: a new engine is one line here."""

from __future__ import annotations

from polsearch_assets.backends.vad.base import SpeechDetector
from polsearch_assets.backends.vad.segmentation import SegmentationVad
from polsearch_assets.backends.vad.silero import SileroVad

SPEECH_DETECTORS: dict[str, type[SpeechDetector]] = {"segmentation": SegmentationVad, "silero": SileroVad}
