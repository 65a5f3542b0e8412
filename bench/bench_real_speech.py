"""Speech detection and speaker attribution on REAL speech: the previous release, the code before a change
(a git revision) and today's, each in its own process, in the same run.

Every recording here is real speech with an exact reference, from audio that packages ship
(``polsearch_assets_tests/fixtures/real_speech.py``, ``meetings.py``):

- simulated meetings (60 s, 2-4 real council voices): back-channels and interjections of 0.3-3 s, rapid
  exchanges, a chair speaking briefly between statements, overlaps, under six recording conditions (close,
  reverb, far at -35 to -45 dBFS, codec round trip, applause/gavel/noise bursts, speakers at different
  distances from one microphone, and all at once); DEV from two meetings under six conditions (where settings
  were chosen), TEST from the other three meetings under all seven (``hearing_room`` never seen in DEV); plus a
  lone speaker with long pauses (45 s and 11 s) per condition;
- the public-domain opening of *A Tale of Two Cities* (moonshine-voice wheel): one reader, 1 speaker;
- the pyannote.audio sample (30 s, two people on a phone line, overlap; a human reference);
- 10 excerpts of REAL meetings (AMI, the pyannote.audio sdist's train files; 30 s, 1-4 people round a
  table, back-channels and much overlap; human references); its other 4 files are issue 24's held-out set
  (``rs.AMI_SPLITS``) and are not scored here;
- hearings strung from whole council clips (DEV/TEST meetings as above), also 20 and 30 dB quieter.

    .venv/bin/python bench/bench_real_speech.py                   # before = 58bdd8b; writes bench/out/real_speech.json
    .venv/bin/python bench/bench_real_speech.py --before REV now  # only those systems; keeps the others' results
    .venv/bin/python bench/bench_real_speech.py --meetings before now  # only meetings, AMI, lone speakers, sample

Columns: DER at collar 0 and 0.25 s (pyannote.metrics; the collar is the total width around each
boundary; overlapped speech scored) with missed / false alarm / confusion at 0.25, the same at 0.25 against
the human-like reference (``meetings.human_reference``: each speaker's pauses under 0.5 s are speech, as
annotators mark utterances), speakers found vs true, and the share of reference speech the VAD missed.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import BEFORE, OUT, machine, revision_env, use_revision_code

use_revision_code()  # the 'before' system: an older revision's polsearch_assets

from polsearch_assets.config import Settings  # noqa: E402
from polsearch_assets.defs.resources import build_resources  # noqa: E402
from polsearch_assets_tests.fixtures import meetings as mt  # noqa: E402
from polsearch_assets_tests.fixtures import real_speech as rs  # noqa: E402

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
    "previous": ("previous release (silero 0.5 + resemblyzer)",
                 {"POLSEARCH_VAD_BACKEND": "silero", "POLSEARCH_DIARIZATION_BACKEND": "resemblyzer"}),
    "before": ("before: {rev} (the default, 58bdd8b: seg-3.0 + CAM++, stop at 0.5, >= 2 speakers)", {}),
    "now": ("now (seg-3.0 + CAM++, a count relative to the recording's own voice, >= 1 speaker)", {}),
}  # fmt: skip


def recordings(only_meetings: bool = False) -> dict[str, rs.Recording]:
    """Every recording of the benchmark by name (``<recording>@<condition>``), made once and cached;
    ``only_meetings``: the simulated meetings, lone speakers, the AMI excerpts and the pyannote sample only."""
    found: dict[str, rs.Recording] = {}
    found |= {f"ami_{name}@dev": recording for name, recording in rs.ami_excerpts("dev").items()}
    root = rs.data_dir() / "bench-meetings"
    for split in ("dev", "test"):
        found |= mt.meeting_set(root, split)
    found["lone_reader@close"] = mt.lone_reader()
    if only_meetings:
        return found | {"pyannote_sample@-0dB": rs.pyannote_sample()}
    work = rs.data_dir() / "bench-hearings"
    hearings = {name: rs.council_hearing(work / name, m, n, s, seed) for name, m, n, s, seed in HEARINGS}
    sample = rs.pyannote_sample()
    for level in (0, 20, 30):
        for name, recording in {**hearings, "pyannote_sample": sample}.items():
            found[f"{name}@-{level}dB"] = recording if level == 0 else rs.attenuated(recording, level)
    # 30 s pieces with 2+ speakers: a voice has seconds, not minutes, to be known by.
    for name, hearing in hearings.items():
        for n, piece in enumerate(rs.excerpts(hearing, 30)):
            found[f"{name}_x30s_{n}@30s"] = piece
    return found


def sets(names: list[str]) -> dict[str, list[str]]:
    """The pooled sets reported: each split under each condition, meetings and lone speakers apart."""
    groups: dict[str, list[str]] = {}
    for name in names:
        recording, condition = name.split("@")
        split = recording.split("_")[0]
        if split == "ami":
            key = f"AMI meetings, {condition}"
        elif "spk_" in recording:
            key = f"{split} meetings, {condition}"
        elif "lone" in recording:
            key = (
                f"{split} lone speaker, {condition}"
                if split in ("dev", "test")
                else "lone reader (Two Cities)"
            )
        elif recording == "pyannote_sample":
            key = f"pyannote sample, {condition}"
        elif condition == "30s":
            key = f"{split} hearings, 30 s pieces"
        else:
            key = f"{split} hearings, {condition}"
        groups.setdefault(key, []).append(name)
    return groups


def _engine(resource: object) -> Any:
    """A stage's model engine: behind its Dagster resource now; the resource itself in revisions before
    the engines left Dagster (the ``before`` system runs such a revision's ``polsearch_assets``)."""
    return getattr(resource, "engine", resource)


def human_turns(name: str, recording: rs.Recording) -> list:
    """The reference as human annotators mark it: the pyannote sample's and the AMI excerpts' are human
    already; the others are VAD-shaped (each placed piece's speech) and get each speaker's pauses under 0.5 s
    bridged."""
    human = name.startswith(("pyannote_sample", "ami_"))
    return recording.turns if human else mt.human_reference(recording.turns)


def evaluate(recording: rs.Recording, resources: dict, human: list) -> dict:
    log = logging.getLogger("bench")
    started = time.perf_counter()
    vad_engine, diarizer = _engine(resources["vad"]), _engine(resources["diarizer"])
    vad, frames = vad_engine.detect_with_frames(recording.wav)
    if frames is not None and vad_engine.frames_identity != diarizer.reusable_frames:
        frames = None  # the diarizer computes its own (as the pipeline does)
    diarization = diarizer.diarize(recording.wav, vad.regions, log, frames=frames)
    seconds = time.perf_counter() - started
    vad_missed = rs.missed_speech(recording.turns, [(r.start_ms, r.end_ms) for r in vad.regions])
    return scored(recording, diarization, human, vad_missed, seconds, vad.duration_ms / 1000)


def scored(
    recording: rs.Recording, diarization: Any, human: list, vad_missed: float, seconds: float, audio_s: float
) -> dict:
    """One recording's row as ``pooled`` reads it: DER at collar 0 and 0.25 with its parts, against the
    reference and the human-like one, and the speakers found vs true."""
    return {
        "collar_0": rs.diarization_error(recording.turns, diarization.turns, 0.0)["der"],
        **rs.diarization_error(recording.turns, diarization.turns, 0.25),
        **{f"human_{k}": v for k, v in rs.diarization_error(human, diarization.turns, 0.25).items()},
        "speakers_found": len(diarization.speakers),
        "speakers_true": len({t.speaker for t in recording.turns}),
        "vad_missed": vad_missed,
        "seconds": seconds,
        "audio_s": audio_s,
    }


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower().replace("--", " ")).split()


def word_error_rate(recording: rs.Recording, resources: dict) -> float:
    import jiwer

    chunks = _engine(resources["vad"]).detect(recording.wav).chunks
    segments = _engine(resources["transcriber"]).transcribe(recording.wav, chunks, logging.getLogger("bench"))
    return jiwer.wer(
        " ".join(words(recording.text or "")), " ".join(words(" ".join(s.text for s in segments)))
    )


def pooled(rows: list[dict]) -> dict:
    """Errors weighted by audio length over a set of recordings."""
    weight = sum(r["audio_s"] for r in rows)
    parts = ("der", "missed", "false_alarm", "confusion")
    keys = ("collar_0", *parts, *(f"human_{k}" for k in parts), "vad_missed")
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


def child(system: str, rows_path: Path, only_meetings: bool) -> None:
    """Evaluate every recording with one system's backends (this process's ``polsearch_assets``)."""
    logging.basicConfig(level=logging.WARNING)
    resources = build_resources(Settings.from_env(SYSTEMS[system][1]))
    rows = {
        name: evaluate(recording, resources, human_turns(name, recording))
        for name, recording in recordings(only_meetings).items()
    }
    if system == "now" and not only_meetings:
        resources = build_resources(Settings())
        rows["wer"] = {
            "pyannote_sample": word_error_rate(rs.pyannote_sample(), resources),
            "two_cities": word_error_rate(rs.two_cities(), resources),
            "model": resources["transcriber"].model_identity,
        }
    rows_path.write_text(json.dumps(rows))


def run_system(system: str, before: str, work: Path, only_meetings: bool) -> dict:
    """One system in a child process; ``before`` runs the ``polsearch_assets`` of that git revision."""
    env = revision_env(before, work) if system == "before" else dict(os.environ)
    rows_path = work / f"{system}.json"
    command = [sys.executable, __file__, "--child", system, str(rows_path)]
    subprocess.run(command + (["--meetings"] if only_meetings else []), env=env, check=True)
    return json.loads(rows_path.read_text())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("systems", nargs="*", help=f"systems to run, of {', '.join(SYSTEMS)} (default: all)")
    parser.add_argument("--before", default=BEFORE, help="git revision of the 'before' system")
    parser.add_argument(
        "--meetings",
        action="store_true",
        help="only the meetings, lone speakers, AMI excerpts, pyannote sample",
    )
    parser.add_argument("--child", nargs=2, metavar=("SYSTEM", "ROWS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]), args.meetings)
        return
    if unknown := set(args.systems) - set(SYSTEMS):
        parser.error(f"unknown systems {sorted(unknown)}; choose of {list(SYSTEMS)}")
    logging.basicConfig(level=logging.WARNING)
    names = list(recordings(args.meetings))  # made once here, before the systems run
    path = OUT / ("real_speech_meetings.json" if args.meetings else "real_speech.json")
    report: dict = json.loads(path.read_text()) if args.systems and path.exists() else {"systems": {}}
    report["machine"] = machine()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for system in args.systems or SYSTEMS:
            rows = run_system(system, args.before, Path(tmp), args.meetings)
            if "wer" in rows:
                report["wer"] = rows.pop("wer")
                print(f"WER ({report['wer']['model']}): {report['wer']}")
            label = SYSTEMS[system][0].format(rev=args.before)
            pooled_sets = {key: pooled([rows[n] for n in members]) for key, members in sets(names).items()}
            report["systems"][system] = {"label": label, "sets": pooled_sets, "recordings": rows}
            for key, row in pooled_sets.items():
                print(
                    f"{system:<9} {key:<34} DER c0 {row['collar_0']:.3f} c0.25 {row['der']:.3f} "
                    f"(miss {row['missed']:.3f} fa {row['false_alarm']:.3f} conf {row['confusion']:.3f}) "
                    f"human ref c0.25 {row['human_der']:.3f} (miss {row['human_missed']:.3f} "
                    f"fa {row['human_false_alarm']:.3f} conf {row['human_confusion']:.3f}) "
                    f"speakers {row['speakers_found_true']} (within 1: {row['speakers_within_1']}) "
                    f"VAD missed {row['vad_missed']:.3f} {row['real_time_factor']:.0f}x real time",
                    flush=True,
                )
    report["load_at_end"] = os.getloadavg()[0]
    report["wall_s"] = time.perf_counter() - started
    OUT.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
