"""Speech detection and speaker attribution on REAL speech: the previous release's backends against today's.

Every recording here is real speech with an exact reference, from audio that packages ship
(``polsearch_assets_tests/fixtures/real_speech.py``): the pyannote.audio sample (30 s, two people on a
phone line, overlap), and hearings strung from the speakerbox wheel's Seattle city-council clips, DEV
from two meetings (where settings were chosen) and TEST from the other three (reported only), each
also turned down by 20 and 30 dB (a far, quiet microphone). WER on the sample's STM and on the public-
domain opening of *A Tale of Two Cities* (moonshine-voice wheel), with the configured transcriber.

    .venv/bin/python bench/bench_real_speech.py            # writes bench/out/real_speech.json
    .venv/bin/python bench/bench_real_speech.py now        # only today's backends; keeps the others' results

Columns: DER at collar 0 and 0.25 s (pyannote.metrics; the collar is the total width around each
boundary; overlapped speech scored) with missed / false alarm / confusion at 0.25, speakers found vs
true, and the share of reference speech the VAD missed.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import OUT, machine
from polsearch_assets.config import Settings
from polsearch_assets.defs.resources import build_resources
from polsearch_assets_tests.fixtures import real_speech as rs

# (name, meetings, speakers, seconds, seed): 3-6 speakers, as a committee's members and witnesses take turns.
HEARINGS = [
    ("dev_3", rs.DEV_MEETINGS, 3, 180, 101),
    ("dev_4", rs.DEV_MEETINGS, 4, 240, 102),
    ("dev_5", rs.DEV_MEETINGS, 5, 300, 103),
    ("dev_6", rs.DEV_MEETINGS, 6, 330, 104),
    ("test_3", rs.TEST_MEETINGS, 3, 180, 201),
    ("test_4", rs.TEST_MEETINGS, 4, 240, 202),
    ("test_5", rs.TEST_MEETINGS, 5, 300, 203),
    ("test_6", rs.TEST_MEETINGS, 6, 330, 204),
]
SYSTEMS = {
    "previous (silero 0.5 + resemblyzer)": {"POLSEARCH_VAD_BACKEND": "silero", "POLSEARCH_DIARIZATION_BACKEND": "resemblyzer"},
    "now (segmentation-3.0 + CAM++)": {},
}  # fmt: skip


def evaluate(recording: rs.Recording, resources: dict) -> dict:
    log = logging.getLogger("bench")
    started = time.perf_counter()
    vad = resources["vad"].engine.detect(recording.wav)
    diarization = resources["diarizer"].engine.diarize(recording.wav, vad.regions, log)
    seconds = time.perf_counter() - started
    return {
        "collar_0": rs.diarization_error(recording.turns, diarization.turns, 0.0)["der"],
        **rs.diarization_error(recording.turns, diarization.turns, 0.25),
        "speakers_found": len(diarization.speakers),
        "speakers_true": len({t.speaker for t in recording.turns}),
        "vad_missed": rs.missed_speech(recording.turns, [(r.start_ms, r.end_ms) for r in vad.regions]),
        "seconds": seconds,
        "audio_s": vad.duration_ms / 1000,
    }


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower().replace("--", " ")).split()


def word_error_rate(recording: rs.Recording, resources: dict) -> float:
    import jiwer

    chunks = resources["vad"].engine.detect(recording.wav).chunks
    segments = resources["transcriber"].engine.transcribe(recording.wav, chunks, logging.getLogger("bench"))
    return jiwer.wer(
        " ".join(words(recording.text or "")), " ".join(words(" ".join(s.text for s in segments)))
    )


def pooled(rows: list[dict]) -> dict:
    """Errors weighted by audio length over a set of recordings."""
    weight = sum(r["audio_s"] for r in rows)
    keys = ("collar_0", "der", "missed", "false_alarm", "confusion", "vad_missed")
    result = {k: sum(r[k] * r["audio_s"] for r in rows) / weight for k in keys}
    result["speakers_exact"] = f"{sum(r['speakers_found'] == r['speakers_true'] for r in rows)}/{len(rows)}"
    result["speakers_within_1"] = (
        f"{sum(abs(r['speakers_found'] - r['speakers_true']) <= 1 for r in rows)}/{len(rows)}"
    )
    result["speakers_found_true"] = (
        " ".join(f"{r['speakers_found']}/{r['speakers_true']}" for r in rows)
        if len(rows) <= 8
        else f"exact {result['speakers_exact']}, within 1 {result['speakers_within_1']}"
    )
    result["real_time_factor"] = weight / sum(r["seconds"] for r in rows)
    return result


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    only = sys.argv[1:]  # system names (their first word) to run; the others' last results are kept
    work = rs.data_dir() / "bench-hearings"
    hearings = {name: rs.council_hearing(work / name, m, n, s, seed) for name, m, n, s, seed in HEARINGS}
    # 30 s pieces with 2+ speakers: a voice has seconds, not minutes, to be known by.
    short = {
        f"{name}_x30s_{n}": piece
        for name, hearing in hearings.items()
        for n, piece in enumerate(rs.excerpts(hearing, 30))
    }
    sample = rs.pyannote_sample()
    path = OUT / "real_speech.json"
    report: dict = json.loads(path.read_text()) if only and path.exists() else {"systems": {}}
    report["machine"] = machine()
    for system, env in SYSTEMS.items():
        if only and system.split()[0] not in only:
            continue
        resources = build_resources(Settings.from_env(env))
        rows: dict[str, dict] = {}
        for level in (0, 20, 30):
            for name, recording in {**hearings, "pyannote_sample": sample}.items():
                audio = recording if level == 0 else rs.attenuated(recording, level)
                rows[f"{name}@-{level}dB"] = evaluate(audio, resources)
        for name, recording in short.items():
            rows[f"{name}@-0dB"] = evaluate(recording, resources)
        sets = {
            f"{split} at -{level} dB": pooled(
                [rows[f"{n}@-{level}dB"] for n in hearings if n.startswith(split)]
            )
            for split in ("dev", "test")
            for level in (0, 20, 30)
        }
        sets |= {
            f"{split} 30 s pieces": pooled([rows[f"{n}@-0dB"] for n in short if n.startswith(split)])
            for split in ("dev", "test")
        }
        sets |= {
            f"pyannote sample at -{level} dB": pooled([rows[f"pyannote_sample@-{level}dB"]])
            for level in (0, 20, 30)
        }
        report["systems"][system] = {"sets": sets, "recordings": rows}
        for name, row in sets.items():
            print(
                f"{system:<38} {name:<26} DER c0 {row['collar_0']:.3f} c0.25 {row['der']:.3f} "
                f"(miss {row['missed']:.3f} fa {row['false_alarm']:.3f} conf {row['confusion']:.3f}) "
                f"speakers {row['speakers_found_true']} VAD missed {row['vad_missed']:.3f} "
                f"{row['real_time_factor']:.0f}x real time"
            )
    resources = build_resources(Settings())
    report["wer"] = {
        "pyannote_sample": word_error_rate(sample, resources),
        "two_cities": word_error_rate(rs.two_cities(), resources),
        "model": resources["transcriber"].model_identity,
    }
    print(f"WER ({report['wer']['model']}): {report['wer']}")
    OUT.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
