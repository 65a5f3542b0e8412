import numpy as np

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
    turns = assemble(scores(20, (11_000, 11_600)), regions, plan, labels)
    listener = [t for t in turns if t.speaker == "1"]
    assert listener[0].start_ms < 100 and len(listener) == 2
    assert 10_900 <= listener[1].start_ms <= 11_100 and 11_500 <= listener[1].end_ms <= 11_700
    statement = [t for t in turns if t.speaker == "0"]
    assert len(statement) == 1 and statement[0].start_ms <= 3400 and statement[0].end_ms >= 19_900
