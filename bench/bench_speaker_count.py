"""The speaker count's variants judged on the same voice windows, set by set (how its settings are chosen).

The whole diarizer costs minutes per set of recordings; the count and the turns drawn from it cost
milliseconds. So each recording's segmentation frames and CAM++ windows are computed once, by the
diarizer itself (``CamppDiarizer.voice_windows``), and cached under ``bench/out/speaker_windows/``; each
variant then counts (``CamppDiarizer.speaker_labels`` with its count settings) and draws turns
(``CamppDiarizer.turns``) exactly as the diarizer does, so a variant's figures are the diarizer's.

The recordings are ``bench_real_speech``'s (simulated meetings under every condition, lone speakers, the
Two Cities reader, the pyannote sample, council hearings at 0/-20/-30 dB and their 30 s pieces) plus
**long hearings**: 40 minutes of real council voices, one from the DEV meetings and one from the TEST
meetings (6 voices each), and the 4-hour, 9-voice benchmark hearing and its first 40 minutes, where a
count that holds on 60 s meetings must also hold.

    .venv/bin/python bench/bench_speaker_count.py                  # the default count on every set
    .venv/bin/python bench/bench_speaker_count.py --variant split_fraction=0.8,merge_fraction=0.84
    .venv/bin/python bench/bench_speaker_count.py --only long     # sets whose name contains "long"
    .venv/bin/python bench/bench_speaker_count.py --meetings --only AMI   # the AMI DEV excerpts only
    .venv/bin/python bench/bench_speaker_count.py --meetings --missed     # where the default misses speech

Settings are chosen on the DEV sets (and the pyannote sample and the Two Cities reader) only; TEST is
reported. Results: ``bench/out/speaker_count.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import pickle
import sys
import time
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.bench_real_speech import human_turns, pooled, recordings, scored, sets
from bench.common import OUT, machine
from polsearch_assets.backends.diarization.campplus import CamppDiarizer, VoiceWindows
from polsearch_assets.config import Settings
from polsearch_assets.core.audio.speech_frames import FRAME_OFFSET_MS
from polsearch_assets.core.speakers.speaker_count import SpeakerCountSettings
from polsearch_assets.defs.resources import build_resources
from polsearch_assets_tests.fixtures import real_speech as rs

# Windows with segmentation's local speakers and their embeddings (issue 24, fifth round); those of the
# revisions before (no local speakers) are read from OLD_CACHE, when there, for their CAM++ windows only.
CACHE = OUT / "speaker_windows_local"
OLD_CACHE = OUT / "speaker_windows"
EMBED_ALONE_MS = 200
# (name, meetings, voices, seconds, seed) of the long hearings. "fourhour": ``bench_pipeline.py --hours 4
# --real``'s hearing (seed 11); cut at 40 minutes, the same script gives that hearing's first 40 minutes.
LONG = [
    ("dev_long", rs.DEV_MEETINGS, 6, 2400, 301),
    ("test_long", rs.TEST_MEETINGS, 6, 2400, 302),
    ("fourhour_first40min", rs.DEV_MEETINGS + rs.TEST_MEETINGS, 9, 2400, 11),
    ("fourhour", rs.DEV_MEETINGS + rs.TEST_MEETINGS, 9, 4 * 3600, 11),  # that hearing itself
]


def long_recordings() -> dict[str, rs.Recording]:
    root = rs.data_dir() / "bench-long"
    return {
        f"{name}@long": rs.council_hearing(root / name, meetings, n, s, seed)
        for name, meetings, n, s, seed in LONG
    }


def voice_windows(name: str, recording: rs.Recording, resources: dict) -> VoiceWindows:
    """The diarizer's windows of one recording, computed once (the VAD's frames reused, as the pipeline does)."""
    path = CACHE / f"{name.replace('@', '__')}.pkl"
    if path.exists():
        return pickle.loads(path.read_bytes())
    vad, diarizer = resources["vad"].engine, resources["diarizer"].engine
    # Local speakers down to EMBED_ALONE_MS are embedded once; each variant keeps those of its own minimum.
    diarizer = diarizer.model_copy(update={"local_speakers": True, "local_min_alone_ms": EMBED_ALONE_MS})
    _, frames = vad.detect_with_frames(recording.wav)
    if frames is not None and vad.frames_identity != diarizer.reusable_frames:
        frames = None
    old = OLD_CACHE / path.name
    windows = pickle.loads(old.read_bytes()) if old.exists() and frames is not None else None
    if windows is not None and np.array_equal(windows.scores.count, frames.count):
        # Same segmentation scores, so the same CAM++ windows: only the local speakers are new.
        windows = replace(windows, scores=frames, local=diarizer.local_voices(recording.wav, frames))
    else:
        windows = diarizer.voice_windows(recording.wav, frames)
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(windows))
    return windows


def evaluate(
    diarizer: CamppDiarizer,
    count: SpeakerCountSettings,
    windows: VoiceWindows,
    recording: rs.Recording,
    name: str,
) -> dict[str, Any]:
    """The diarizer's turns with ``count``, scored as bench_real_speech scores them (VAD not re-run: 0)."""
    started = time.process_time()
    diarization = diarizer.turns(windows, diarizer.speaker_labels(windows, count))
    seconds = max(time.process_time() - started, 1e-6)
    audio_s = windows.scores.num_samples / rs.SAMPLE_RATE
    return scored(recording, diarization, human_turns(name, recording), 0.0, seconds, audio_s)


GRID_MS = 10
COLLAR_MS = 125  # half of the 0.25 s collar, as pyannote.metrics leaves it out around each reference boundary
QUIET_DB = 10.0  # "quiet": a cell this far below the recording's median level over reference speech


def missed_parts(reference: list, hypothesis: tuple, windows: VoiceWindows, wav: Path) -> dict[str, float]:
    """Where missed speech at collar 0.25 comes from (10 ms cells; pyannote's missed is the sum over cells of
    reference speakers minus hypothesis speakers, where positive): cells the hypothesis gives **nobody**
    (split: segmentation's P(speech) under 0.5 there, i.e. not heard, or heard and lost on the way to turns;
    reference turns under 1 s; quiet cells) and the **overlap deficit** (the hypothesis has someone, but
    fewer than the reference; split: segmentation's count rounds to 2 there or not; reference of 3+)."""
    n = windows.scores.num_samples * 1000 // rs.SAMPLE_RATE // GRID_MS

    def per_cell(turns: Any, short: bool = False) -> np.ndarray:
        count = np.zeros(n, dtype=np.int64)
        for t in turns:
            if not short or t.end_ms - t.start_ms < 1000:
                count[t.start_ms // GRID_MS : t.end_ms // GRID_MS] += 1
        return count

    scored = np.ones(n, dtype=bool)
    for t in reference:
        for edge in (t.start_ms, t.end_ms):
            scored[max(0, (edge - COLLAR_MS) // GRID_MS) : (edge + COLLAR_MS) // GRID_MS] = False
    ref, hyp, short = per_cell(reference), per_cell(hypothesis), per_cell(reference, short=True) > 0
    audio, _ = sf.read(str(wav), dtype="float32")
    cells = audio[: n * rs.SAMPLE_RATE * GRID_MS // 1000].reshape(n, -1)
    level = 10 * np.log10(np.mean(cells.astype(np.float64) ** 2, axis=1) + 1e-12)
    quiet = level < np.median(level[ref > 0]) - QUIET_DB if (ref > 0).any() else np.zeros(n, dtype=bool)
    scores = windows.scores
    centres = (np.arange(n) + 0.5) * GRID_MS
    frame = np.clip(
        ((centres - FRAME_OFFSET_MS) / scores.frame_step_ms).astype(int), 0, len(scores.speech) - 1
    )
    heard, two = scores.speech[frame] >= 0.5, scores.speaker_count()[frame] >= 2
    nobody, deficit = scored & (ref > 0) & (hyp == 0), scored & (ref > hyp) & (hyp > 0)
    lack = np.where(nobody, ref, 0) + np.where(deficit, ref - hyp, 0)

    def seconds(mask: np.ndarray) -> float:
        return float(lack[mask].sum() * GRID_MS / 1000)

    return {
        "reference_s": float(ref[scored].sum() * GRID_MS / 1000),
        "nobody_s": seconds(nobody),
        "nobody_unheard_s": seconds(nobody & ~heard),
        "nobody_heard_s": seconds(nobody & heard),
        "nobody_short_s": seconds(nobody & short),
        "nobody_quiet_s": seconds(nobody & quiet),
        "deficit_s": seconds(deficit),
        "deficit_two_s": seconds(deficit & two),
        "deficit_three_s": seconds(deficit & (ref >= 3)),
        "quiet_reference_s": float(ref[scored & quiet].sum() * GRID_MS / 1000),
    }


def print_missed(groups: dict[str, list[str]], parts: dict[str, dict[str, float]]) -> None:
    for key, members in sorted(groups.items()):
        total = {k: sum(parts[n][k] for n in members) for k in parts[members[0]]}
        share = {k: v / max(total["reference_s"], 1e-9) for k, v in total.items()}
        print(
            f"missed {key:<34} {total['reference_s']:.0f} s ref: nobody {share['nobody_s']:.3f} (not heard "
            f"{share['nobody_unheard_s']:.3f}, heard {share['nobody_heard_s']:.3f}; turns < 1 s "
            f"{share['nobody_short_s']:.3f}; quiet {share['nobody_quiet_s']:.3f} of {share['quiet_reference_s']:.3f}) "
            f"overlap deficit {share['deficit_s']:.3f} (count rounds to 2 {share['deficit_two_s']:.3f}; "
            f"3+ voices {share['deficit_three_s']:.3f})",
            flush=True,
        )


def parse_variant(text: str, diarizer: CamppDiarizer) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """``name=value,name=value`` over SpeakerCountSettings' fields and the diarizer's own (such as
    ``local_speakers=0``: main's turns, from the CAM++ windows alone), typed as the field's default."""
    defaults = SpeakerCountSettings()
    known = {f.name for f in fields(SpeakerCountSettings)}
    changes: dict[str, Any] = {}
    own: dict[str, Any] = {}
    for part in filter(None, text.split(",")):
        key, _, value = part.partition("=")
        if key in known:
            changes[key] = type(getattr(defaults, key))(value)
        elif key in type(diarizer).model_fields:
            kind = type(getattr(diarizer, key))
            own[key] = bool(int(value)) if kind is bool else kind(value)
        else:
            raise SystemExit(f"unknown setting {key!r}; one of {sorted(known)} or the diarizer's fields")
    return text, changes, own


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--variant", action="append", default=[], help="name=value,... (repeatable)")
    parser.add_argument("--only", default="", help="only sets whose name contains this")
    parser.add_argument("--no-default", action="store_true", help="leave out the default settings")
    parser.add_argument(
        "--missed",
        action="store_true",
        help="also where the default misses speech (collar 0.25), set by set and by cause",
    )
    parser.add_argument(
        "--meetings",
        action="store_true",
        help="only the meetings, lone speakers, AMI DEV excerpts and pyannote sample (no hearing is built)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    found = recordings(only_meetings=True) if args.meetings else recordings() | long_recordings()
    groups = {k: v for k, v in sets(list(found)).items() if args.only in k}
    resources = build_resources(Settings.from_env())
    diarizer: CamppDiarizer = resources["diarizer"].engine
    variants = ([] if args.no_default else [("default", {}, {})]) + [
        parse_variant(v, diarizer) for v in args.variant
    ]
    names = sorted({n for members in groups.values() for n in members})
    windows = {n: voice_windows(n, found[n], resources) for n in names}
    report: dict[str, Any] = {"machine": machine(), "variants": {}}
    for label, changes, own in variants:
        variant = diarizer.model_copy(update=own)
        count = replace(variant.count_settings, **changes)
        rows = {n: evaluate(variant, count, windows[n], found[n], n) for n in names}
        report["variants"][label] = {
            "settings": changes | own,
            "sets": {key: pooled([rows[n] for n in members]) for key, members in groups.items()},
            "recordings": rows,
        }
        for key, row in sorted(report["variants"][label]["sets"].items()):
            print(
                f"{label:<28} {key:<34} DER c0.25 {row['der']:.3f} (miss {row['missed']:.3f} "
                f"fa {row['false_alarm']:.3f} conf {row['confusion']:.3f}) human {row['human_der']:.3f} "
                f"speakers {row['speakers_found_true']} (within 1: {row['speakers_within_1']})",
                flush=True,
            )
    if args.missed:
        parts = {}
        for n in names:
            turns = diarizer.turns(windows[n], diarizer.speaker_labels(windows[n])).turns
            parts[n] = missed_parts(found[n].turns, turns, windows[n], found[n].wav)
        print_missed(groups, parts)
        report["missed"] = parts
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "speaker_count.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
