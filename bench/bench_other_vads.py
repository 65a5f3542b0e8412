"""Do other packaged speech detectors hear the real-meeting speech segmentation-3.0 misses? (issue 24)

On the AMI DEV excerpts (never the held-out ones) and the pyannote sample: the share of reference speech
each detector scores as speech (P >= 0.5, frame by frame on a 10 ms grid, no padding or smoothing) and the
share of the reference's non-speech it scores as speech. Detectors: the embedded VAD's segmentation-3.0,
the silero-vad the previous release used, and TEN VAD (the ``ten-vad`` wheel, fetched at run time with
``pip download``; its library needs ``libc++1`` from the system). TEN VAD is measured, not shipped: its
licence adds conditions to Apache 2.0 (no deployment that lets third parties build or deploy
applications) that an open platform others deploy cannot meet.

    .venv/bin/python bench/bench_other_vads.py          # results in bench/out/other_vads.json
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import OUT, machine
from polsearch_assets.backends.profiles import configured_backends
from polsearch_assets.backends.vad.silero import speech_probabilities
from polsearch_assets.config import Settings
from polsearch_assets.core.audio.speech_frames import FRAME_OFFSET_MS
from polsearch_assets_tests.fixtures import real_speech as rs

TEN_VAD = "1.0.6.9"
GRID_MS = 10
HOP = 256  # TEN VAD's 16 ms hop
SILERO_FRAME_MS = 32


def ten_vad_class() -> type:
    folder = rs.data_dir() / "ten-vad"
    if not (folder / "ten_vad").exists():
        wheels = rs.data_dir() / "wheels"
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(wheels), f"ten-vad=={TEN_VAD}"],
            check=True,
        )  # fmt: skip
        with zipfile.ZipFile(next(wheels.glob(f"ten_vad-{TEN_VAD}-*.whl"))) as wheel:
            wheel.extractall(folder)
    sys.path.insert(0, str(folder))
    from ten_vad import TenVad

    return TenVad


def on_grid(probabilities: np.ndarray, first_ms: float, step_ms: float, cells: int) -> np.ndarray:
    """Each 10 ms cell's probability from the frame whose centre is nearest."""
    centres = np.arange(cells) * GRID_MS + GRID_MS / 2
    index = np.clip(np.rint((centres - first_ms) / step_ms).astype(int), 0, len(probabilities) - 1)
    return probabilities[index]


def detectors(wav: Path, cells: int, ten_vad: type) -> dict[str, np.ndarray]:
    speech_detector = configured_backends(Settings()).speech_detector
    _, _, scores = speech_detector.regions(wav)
    assert scores is not None
    silero, _ = speech_probabilities(wav, 2)
    audio, rate = sf.read(wav, dtype="int16")
    assert rate == 16_000
    vad = ten_vad(HOP, 0.5)
    ten = np.array([vad.process(audio[i : i + HOP])[0] for i in range(0, len(audio) - HOP + 1, HOP)])
    return {
        "segmentation-3.0": on_grid(scores.speech, FRAME_OFFSET_MS, scores.frame_step_ms, cells),
        "silero": on_grid(silero, SILERO_FRAME_MS / 2, SILERO_FRAME_MS, cells),
        "ten-vad": on_grid(ten, HOP / 32, HOP / 16, cells),
    }


def main() -> None:
    ten_vad = ten_vad_class()
    recordings = {f"ami {name}": rec for name, rec in sorted(rs.ami_excerpts("dev").items())}
    recordings["pyannote sample"] = rs.pyannote_sample()
    report: dict = {"machine": machine(), "recordings": {}, "pooled": {}}
    pooled: dict[str, list[int]] = {}
    for name, rec in recordings.items():
        cells = sf.info(str(rec.wav)).frames * 1000 // 16_000 // GRID_MS
        centres = np.arange(cells) * GRID_MS + GRID_MS / 2
        reference = np.zeros(cells, bool)
        for turn in rec.turns:
            reference |= (centres >= turn.start_ms) & (centres < turn.end_ms)
        row = {}
        for detector, probabilities in detectors(rec.wav, cells, ten_vad).items():
            heard = probabilities >= 0.5
            counts = [
                int((heard & reference).sum()),
                int(reference.sum()),
                int((heard & ~reference).sum()),
                int((~reference).sum()),
            ]
            row[detector] = {
                "speech_heard": counts[0] / max(counts[1], 1),
                "non_speech_as_speech": counts[2] / max(counts[3], 1),
            }
            if name.startswith("ami"):
                pooled[detector] = [
                    a + b for a, b in zip(pooled.get(detector, [0, 0, 0, 0]), counts, strict=True)
                ]
        report["recordings"][name] = row
        print(
            name,
            "  ".join(
                f"{d}: heard {v['speech_heard']:.3f} false {v['non_speech_as_speech']:.3f}"
                for d, v in row.items()
            ),
        )
    for detector, (heard, speech, false, silence) in pooled.items():
        report["pooled"][detector] = {"speech_heard": heard / speech, "non_speech_as_speech": false / silence}
        print(
            f"AMI DEV pooled, {detector}: heard {heard / speech:.3f}, non-speech as speech {false / silence:.3f}"
        )
    OUT.mkdir(exist_ok=True)
    (OUT / "other_vads.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
