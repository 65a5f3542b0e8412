import numpy as np

from polsearch_assets.backends.diarization.campplus import CamppDiarizer
from polsearch_assets.core.audio.speech_frames import (
    FRAME_OFFSET_MS,
    FRAME_STEP_SAMPLES,
    SAMPLE_RATE,
    FrameScores,
)
from polsearch_assets.core.speakers.frames import assemble, plan_windows


def scores(seconds: float, two_voices_ms: tuple[int, int]) -> FrameScores:
    """Speech throughout; segmentation hears two voices at once within ``two_voices_ms``."""
    n = int(seconds * SAMPLE_RATE) // FRAME_STEP_SAMPLES
    centres = FRAME_OFFSET_MS + (np.arange(n) + 0.5) * FRAME_STEP_SAMPLES * 1000 / SAMPLE_RATE
    count = np.where((centres >= two_voices_ms[0]) & (centres < two_voices_ms[1]), 2.0, 1.0)
    return FrameScores(np.ones(n, np.float32), count.astype(np.float32), int(seconds * SAMPLE_RATE))


def test_a_back_channel_during_a_long_statement_gets_the_listener() -> None:
    """A listener who spoke 8 s earlier says "yes" over the statement: the frames where segmentation hears two
    voices get the listener as the second speaker, not only the one talking (whose windows cover them)."""
    regions = [(0, 3000), (3300, 20_000)]
    plan = plan_windows(regions, 1500, 1500, num_samples=20 * SAMPLE_RATE)
    centres_ms = (plan.starts + plan.length / 2) * 1000 / SAMPLE_RATE
    labels = np.where(centres_ms < 3000, 1, 0)  # the listener opens, then the statement
    turns = assemble(scores(20, (11_000, 11_600)), regions, plan, labels, second_speaker_max_gap_ms=10_000)
    listener = [t for t in turns if t.speaker == "1"]
    assert listener[0].start_ms < 100 and len(listener) == 2
    assert 10_900 <= listener[1].start_ms <= 11_100 and 11_500 <= listener[1].end_ms <= 11_700
    statement = [t for t in turns if t.speaker == "0"]
    assert len(statement) == 1 and statement[0].start_ms <= 3400 and statement[0].end_ms >= 19_900


def test_a_minor_speaker_who_spoke_15_s_before_gets_the_overlap() -> None:
    """A real meeting's minor speaker speaks once, then talks over the main speaker 15 s later (AMI DEV
    trn09): with the diarizer's reach the two-voice frames get the minor speaker (missed at 10 s)."""
    regions = [(0, 3000), (3300, 25_000)]
    plan = plan_windows(regions, 1500, 1500, num_samples=25 * SAMPLE_RATE)
    centres_ms = (plan.starts + plan.length / 2) * 1000 / SAMPLE_RATE
    labels = np.where(centres_ms < 3000, 1, 0)
    reach = CamppDiarizer.model_fields["second_speaker_within_ms"].default
    turns = assemble(scores(25, (17_000, 17_600)), regions, plan, labels, second_speaker_max_gap_ms=reach)
    minor = [t for t in turns if t.speaker == "1"]
    assert len(minor) == 2 and 16_900 <= minor[1].start_ms <= 17_100 and 17_500 <= minor[1].end_ms <= 17_700
