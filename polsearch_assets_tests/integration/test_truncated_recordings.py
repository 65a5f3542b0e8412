"""A recording that ends mid-speech (a cut download, a stream stopped mid-sentence) is transcribed, not rejected.

faster-whisper gives the last words end times up to ~0.4 s past the end of the audio; the transcript's
contract check is strict (every word inside the audio), so the backend clamps at the source.
"""

from __future__ import annotations

import logging
from pathlib import Path

import dagster as dg
import pytest
import soundfile as sf

from polsearch_assets.backends.asr.faster_whisper import FasterWhisperTranscriber
from polsearch_assets.backends.vad.segmentation import SegmentationVad
from polsearch_assets.core.artifacts import TRANSCRIPT_JSON, audio_duration_ms
from polsearch_assets.core.validation import transcript_problems
from polsearch_assets_tests.fixtures.hearing import hearing_resources, run_hearing
from polsearch_assets_tests.fixtures.media import SAMPLE_WAV

# Inside speech turns of the sample (its RTTM): every cut falls mid-sentence.
CUTS_S = (7.3, 11.2, 15.2, 21.5, 36.0, 44.9, 65.0)


def cut(seconds: float, target: Path) -> Path:
    audio, rate = sf.read(SAMPLE_WAV, dtype="int16")
    sf.write(target, audio[: int(seconds * rate)], rate, subtype="PCM_16")
    return target


@pytest.mark.slow
def test_words_never_end_after_the_audio_at_any_cut(tmp_path: Path) -> None:
    transcriber = FasterWhisperTranscriber.from_settings()
    log = logging.getLogger("test")
    for seconds in CUTS_S:
        wav = cut(seconds, tmp_path / f"cut-{seconds}.wav")
        vad = SegmentationVad.from_settings().detect(wav)
        segments = transcriber.transcribe(wav, vad.chunks, log)
        document = {"segments": [s.to_json() for s in segments]}
        assert segments, f"cut at {seconds} s: no words"
        assert transcript_problems(document, vad.duration_ms) == [], f"cut at {seconds} s"


@pytest.mark.slow
def test_a_recording_cut_mid_sentence_goes_through_the_whole_graph(tmp_path: Path) -> None:
    resources = hearing_resources(tmp_path)
    with dg.instance_for_test() as instance:
        key, result = run_hearing(instance, resources, cut(CUTS_S[0], tmp_path / "cut.wav"))
        assert result.success
        checks = {e.asset_key.to_user_string(): e.passed for e in result.get_asset_check_evaluations()}
        assert checks["transcript"] and checks["aligned_segments"]
        store = resources["artifact_store"]
        words = [w for s in store.read_json(key, TRANSCRIPT_JSON)["segments"] for w in s["words"]]
        assert max(w["end_ms"] for w in words) <= audio_duration_ms(store, key)
