"""The cost side of Sortformer's windows, and of frame-probability word speakers.

    .venv/bin/python bench/bench_sortformer_windows.py             # 60-minute hearing, tiny model
    .venv/bin/python bench/bench_sortformer_windows.py --minutes 120

1. One streaming pass over the whole hearing (``window_s=0``: the speaker cache alone) against
   10-minute windows linked by voice (the default), each in a fresh process: wall time and peak RSS
   of ``SortformerDiarizer.diarize`` on the sample hearing looped to ``--minutes``, with the test
   suite's tiny random Sortformer (no weights are reachable here). It measures what the pipeline
   around the model costs (features, streaming steps, window I/O, voice embeddings, linking, frame
   stitching), not the real model's encoder.
2. Word -> speaker assignment on a synthetic 4-hour, 15-speaker hearing (40,000 words, 80 ms frames):
   max-overlap on turns vs mean frame probability, the frame stitching of 27 windows, and the size of
   the stored frames artifact.

Results go to bench/out/sortformer_windows.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import OUT, looped_sample, machine, peak_rss_mib  # noqa: E402


def child(cache: str, model: str, wav: str, window_s: float) -> dict:
    import logging

    from polsearch_assets.backends.diarization.sortformer import SortformerDiarizer
    from polsearch_assets.backends.vad.segmentation import SegmentationVad

    regions = SegmentationVad.from_settings().detect(Path(wav)).regions
    diarizer = SortformerDiarizer.from_settings(
        model=model, model_cache_dir=cache, device="cpu", window_s=window_s
    )
    diarizer._model().result()  # loading is not what is compared
    before = peak_rss_mib()
    started = time.perf_counter()
    result = diarizer.diarize(Path(wav), regions, logging.getLogger("bench"))
    wall = time.perf_counter() - started
    return {
        "wall_s": wall,
        "peak_rss_mib": peak_rss_mib(),
        "peak_rss_before_diarize_mib": before,
        "speakers": len(result.speakers),
        "turns": len(result.turns),
        **result.details,
    }


def word_speakers(repeats: int = 5) -> dict:
    """Both assignment rules, the stitching and the artifact on a constructed 4-hour hearing."""
    import numpy as np

    from polsearch_assets.core.contracts import SpeakerFrames, Turn, Word
    from polsearch_assets.core.speakers.linking import diarization_windows, stitch_frames
    from polsearch_assets.core.speech.alignment import assign_speakers, assign_speakers_by_frames

    rng = np.random.default_rng(0)
    duration_ms, frame_ms, speakers = 4 * 3_600_000, 80, 15
    # turns of 2-40 s by random speakers, 15 % of them overlapping the next by up to 1.5 s
    turns, t = [], 0
    while t < duration_ms:
        length = int(rng.uniform(2_000, 40_000))
        overlap = int(rng.uniform(0, 1_500)) if rng.random() < 0.15 else 0
        turns.append(Turn(f"G{rng.integers(speakers)}", t, min(t + length + overlap, duration_ms)))
        t += length
    frames = -(-duration_ms // frame_ms)
    activity = rng.uniform(0, 0.1, size=(frames, speakers)).astype(np.float32)
    for turn in turns:
        activity[turn.start_ms // frame_ms : turn.end_ms // frame_ms, int(turn.speaker[1:])] = rng.uniform(
            0.6, 1
        )
    words = [
        Word("w", int(s), int(s) + int(rng.uniform(150, 600)))
        for s in np.sort(rng.uniform(0, duration_ms - 600, size=40_000))
    ]
    windows = diarization_windows(duration_ms, 600_000, 60_000)
    labels = [f"speaker_{k}" for k in range(4)]
    # every window's 4 local speakers, mapped to 4 distinct global ids
    identities = {
        (w.index, label): int(g)
        for w in windows
        for label, g in zip(labels, rng.choice(speakers, 4, replace=False), strict=True)
    }
    local = {
        w.index: rng.uniform(0, 1, size=(-(-(w.end_ms - w.start_ms) // frame_ms), 4)).astype(np.float32)
        for w in windows
    }

    def best_of(call) -> float:
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            call()
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    hearing = SpeakerFrames(frame_ms, tuple(f"G{k}" for k in range(speakers)), activity)
    return {
        "hours": duration_ms / 3_600_000,
        "words": len(words),
        "turns": len(turns),
        "frames": frames,
        "speakers": speakers,
        "max_overlap_s": best_of(lambda: assign_speakers(words, turns)),
        "frame_probabilities_s": best_of(lambda: assign_speakers_by_frames(words, hearing, turns)),
        "stitch_frames_27_windows_s": best_of(
            lambda: stitch_frames(windows, local, labels, identities, duration_ms, frame_ms)
        ),
        "frames_artifact_mib": len(hearing.to_npz()) / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=60)
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        cache, model, wav, window_s = args.child
        print(json.dumps(child(cache, model, wav, float(window_s))))
        return

    from polsearch_assets_tests.fixtures.tiny_nemo import TINY_SORTFORMER, build_tiny_sortformer

    report: dict = {
        "machine": machine(),
        "minutes": args.minutes,
    }
    with tempfile.TemporaryDirectory(prefix="polsearch-bench-") as tmp:
        root = Path(tmp)
        wav = root / "hearing.wav"
        looped_sample(wav, args.minutes * 60)
        build_tiny_sortformer(root / "cache" / TINY_SORTFORMER / "tiny-sortformer.nemo")
        for name, window_s in (("one pass (speaker cache alone)", 0), ("10-min windows, linked", 600)):
            result = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    str(root / "cache"),
                    TINY_SORTFORMER,
                    str(wav),
                    str(window_s),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            report[name] = json.loads(result.stdout.strip().splitlines()[-1])
            print(name, json.dumps(report[name]), flush=True)
    report["word_speakers"] = word_speakers()
    print("word speakers", json.dumps(report["word_speakers"]), flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "sortformer_windows.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
