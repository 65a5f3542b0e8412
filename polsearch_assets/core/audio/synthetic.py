"""Synthetic congressional hearings with ground truth, for tests and benchmarks.

Offline text-to-speech voices (Debian's flite and espeak-ng, optionally pitch-
shifted with sox to make more distinct speakers) read a hearing script with
pauses, a few overlapping interruptions and room noise. The output is a 16 kHz
mono WAV, the script with every utterance's speaker and time (JSON), the plain
reference transcript and the speaker turns as RTTM.

    python -m polsearch_assets.core.audio.synthetic --out samples/sample_hearing --seed 7 --minutes 1.5 --speakers 4
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

SAMPLE_RATE = 16_000
_SILENCE_THRESHOLD = 10 ** (-45 / 20)  # trim TTS output where it is below -45 dBFS


@dataclass(frozen=True)
class Voice:
    engine: str  # "flite" or "espeak-ng"
    name: str  # the engine's voice name
    pitch_cents: int = 0  # sox pitch shift, for more distinct speakers from one voice


# The first N are used for N speakers. Chosen greedily from 68 flite/espeak-ng candidates (with pitch
# shifts) to maximise the smallest resemblyzer cosine distance to the voices before them: every pair of
# these 15 is at least 0.23 apart (utterance embeddings), so they are distinct "people" to a diarizer.
VOICES: tuple[Voice, ...] = (
    Voice("flite", "rms"),
    Voice("flite", "slt"),
    Voice("flite", "awb"),
    Voice("flite", "kal16"),
    Voice("espeak-ng", "en-029+Alicia"),
    Voice("espeak-ng", "en-gb-scotland+f2"),
    Voice("flite", "rms", pitch_cents=-500),
    Voice("espeak-ng", "en-gb-x-gbcwmd+m7"),
    Voice("flite", "slt", pitch_cents=-500),
    Voice("flite", "awb", pitch_cents=500),
    Voice("espeak-ng", "en-gb-x-gbclan+klatt2"),
    Voice("flite", "kal16", pitch_cents=500),
    Voice("espeak-ng", "en-us+m1"),
    Voice("flite", "kal16", pitch_cents=-500),
    Voice("espeak-ng", "en-029+f4"),
)


_CHAIR_OPENING = [
    "The committee will come to order.",
    "Without objection, the chair is authorized to declare a recess of the committee at any time.",
    "We are here today to examine the safety of our nation's bridges and highways.",
]
_CHAIR = [
    "The gentlewoman's time has expired.",
    "I now recognize the ranking member for her questions.",
    "Thank you. The chair now recognizes the gentleman from Ohio.",
    "Without objection, the letter will be entered into the record.",
    "Please keep your answers brief so that every member has a chance to ask questions.",
    "The witness may answer the question in writing.",
    "We will now move to a second round of questions.",
]
_MEMBER = [
    "Thank you, mister chairman, and thank you to our witnesses for being here today.",
    "How many inspections did your agency complete last year?",
    "Can you explain why the repairs on the river crossing were delayed?",
    "I am concerned that rural communities are being left behind.",
    "Would you commit to providing this committee with the full inspection report?",
    "My constituents drive across that bridge every single morning.",
    "What would it cost to replace the aging culverts in my district?",
    "I yield back the balance of my time.",
    "Do you believe the current funding formula is fair to small states?",
    "Who made the decision to postpone the public hearing?",
]
_WITNESS = [
    "Thank you for the opportunity to testify before this committee.",
    "Our inspectors examined every structure that was rated in poor condition.",
    "The delay was caused by a shortage of steel and qualified contractors.",
    "Yes, we will provide the full report within thirty days.",
    "The funding formula was written decades ago and does not reflect current traffic.",
    "We have begun a pilot program that uses sensors to monitor corrosion.",
    "I would be happy to follow up with your office on that question.",
    "Safety is the highest priority of our department.",
    "That is an excellent question, and the honest answer is that we do not know yet.",
    "Many of these bridges were built more than fifty years ago.",
]

# Every sentence a generated hearing can contain (benchmarks draw realistic segment texts from it).
SENTENCES: tuple[str, ...] = (*_CHAIR_OPENING, *_CHAIR, *_MEMBER, *_WITNESS)


@dataclass(frozen=True)
class Utterance:
    speaker: str
    voice: str
    text: str
    start_ms: int
    end_ms: int


def _script(rng: random.Random, speakers: int, target_s: float) -> list[tuple[int, str]]:
    """(speaker index, text) pairs: the chair opens, members and witnesses alternate, the chair moderates."""
    if speakers < 2:
        raise ValueError("a hearing needs at least 2 speakers")
    members = list(range(1, 1 + max(1, (speakers - 1) // 2)))
    witnesses = [s for s in range(1, speakers) if s not in members] or members
    lines: list[tuple[int, str]] = [(0, " ".join(_CHAIR_OPENING[:2]))]
    estimated_s = 8.0
    words_per_s = 2.6
    while estimated_s < target_s:
        member = rng.choice(members)
        witness = rng.choice(witnesses)
        exchange = [
            (0, rng.choice(_CHAIR)),
            (member, " ".join(rng.sample(_MEMBER, rng.randint(1, 2)))),
            (witness, " ".join(rng.sample(_WITNESS, rng.randint(1, 2)))),
            (member, rng.choice(_MEMBER)),
            (witness, rng.choice(_WITNESS)),
        ]
        for speaker, text in exchange:
            lines.append((speaker, text))
            estimated_s += len(text.split()) / words_per_s + 0.8
    return lines


def _tts(voice: Voice, text: str, workdir: Path) -> np.ndarray:
    raw, out = workdir / "raw.wav", workdir / "out.wav"
    if voice.engine == "flite":
        subprocess.run(
            ["flite", "-voice", voice.name, "-t", text, "-o", str(raw)], check=True, capture_output=True
        )
    else:
        subprocess.run(
            ["espeak-ng", "-v", voice.name, "-s", "165", "-w", str(raw), text],
            check=True,
            capture_output=True,
        )
    effects = ["pitch", str(voice.pitch_cents)] if voice.pitch_cents else []
    subprocess.run(
        [
            "sox",
            str(raw),
            "-r",
            str(SAMPLE_RATE),
            "-c",
            "1",
            "-b",
            "32",
            "-e",
            "floating-point",
            str(out),
            *effects,
        ],
        check=True,
        capture_output=True,
    )
    audio, _ = sf.read(out, dtype="float32")
    loud = np.flatnonzero(np.abs(audio) > _SILENCE_THRESHOLD)
    return audio[loud[0] : loud[-1] + 1] if loud.size else audio[:0]


def _room_noise(rng: np.random.Generator, samples: int) -> np.ndarray:
    """Brown-ish room noise at about -45 dBFS plus a faint 60 Hz hum."""
    white = rng.standard_normal(samples).astype(np.float32)
    smoothed = np.convolve(white, np.ones(8, dtype=np.float32) / 8, mode="same")
    noise = smoothed / (np.std(smoothed) + 1e-9) * 10 ** (-45 / 20)
    hum = 10 ** (-50 / 20) * np.sin(2 * np.pi * 60 * np.arange(samples) / SAMPLE_RATE)
    return (noise + hum).astype(np.float32)


def synthesize(
    out_dir: Path, *, seed: int, minutes: float, speakers: int, name: str = "sample_hearing"
) -> list[Utterance]:
    """Write ``<name>.wav``, ``<name>.json`` (script), ``<name>.txt`` and ``<name>.rttm`` into ``out_dir``."""
    if not 2 <= speakers <= len(VOICES):
        raise ValueError(f"speakers must be between 2 and {len(VOICES)}")
    rng = random.Random(seed)
    labels = [f"spk{i:02d}" for i in range(speakers)]  # spk00 chairs
    lines = _script(rng, speakers, minutes * 60)
    clips: list[tuple[int, str, np.ndarray]] = []
    with tempfile.TemporaryDirectory(prefix="polsearch-tts-") as tmp:
        for speaker, text in lines:
            clips.append((speaker, text, _tts(VOICES[speaker], text, Path(tmp))))

    utterances: list[Utterance] = []
    placed: list[tuple[int, np.ndarray]] = []
    cursor = int(0.8 * SAMPLE_RATE)
    previous: int | None = None
    for speaker, text, audio in clips:
        if previous is not None:
            if speaker != previous and rng.random() < 0.12:  # an interruption: overlap the previous speaker
                cursor -= int(rng.uniform(0.3, 0.9) * SAMPLE_RATE)
            elif rng.random() < 0.1:  # a long pause (papers shuffled, a member arrives)
                cursor += int(rng.uniform(2.0, 4.0) * SAMPLE_RATE)
            else:
                cursor += int(rng.uniform(0.35, 1.2) * SAMPLE_RATE)
        placed.append((cursor, audio))
        start_ms = cursor * 1000 // SAMPLE_RATE
        end_ms = (cursor + len(audio)) * 1000 // SAMPLE_RATE
        utterances.append(Utterance(labels[speaker], _voice_id(VOICES[speaker]), text, start_ms, end_ms))
        cursor += len(audio)
        previous = speaker
    total = cursor + int(1.0 * SAMPLE_RATE)
    mix = _room_noise(np.random.default_rng(seed), total)
    for start, audio in placed:
        mix[start : start + len(audio)] += 0.6 * audio
    mix *= 0.7 / max(1e-6, float(np.max(np.abs(mix))))

    out_dir.mkdir(parents=True, exist_ok=True)
    sf.write(out_dir / f"{name}.wav", mix, SAMPLE_RATE, subtype="PCM_16")
    (out_dir / f"{name}.json").write_text(
        json.dumps(
            {
                "seed": seed,
                "speakers": {labels[i]: _voice_id(VOICES[i]) for i in range(speakers)},
                "duration_ms": total * 1000 // SAMPLE_RATE,
                "utterances": [asdict(u) for u in utterances],
            },
            indent=1,
        )
    )
    (out_dir / f"{name}.txt").write_text("\n".join(u.text for u in utterances) + "\n")
    (out_dir / f"{name}.rttm").write_text(
        "".join(
            f"SPEAKER {name} 1 {u.start_ms / 1000:.3f} {(u.end_ms - u.start_ms) / 1000:.3f} <NA> <NA> {u.speaker} <NA> <NA>\n"
            for u in utterances
        )
    )
    return utterances


def _voice_id(voice: Voice) -> str:
    return f"{voice.engine}:{voice.name}" + (f":pitch{voice.pitch_cents:+d}" if voice.pitch_cents else "")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--name", default="sample_hearing", help="file name stem and RTTM file id")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--minutes", type=float, default=1.5)
    parser.add_argument("--speakers", type=int, default=4)
    args = parser.parse_args()
    utterances = synthesize(
        args.out, seed=args.seed, minutes=args.minutes, speakers=args.speakers, name=args.name
    )
    print(f"{len(utterances)} utterances, {utterances[-1].end_ms / 1000:.1f} s -> {args.out}")


if __name__ == "__main__":
    main()
