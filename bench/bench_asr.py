"""Transcription on REAL speech: Whisper tiny.en vs base, and the decoding before vs after issue 16's fixes.

Recordings with an exact reference (fixtures/real_speech.py): the opening of *A Tale of Two Cities* (read,
40 s) and the pyannote.audio sample (a phone call, 30 s, two people, overlap; its STM). WER pooled over
their reference words. Council hearings strung from real Seattle council clips (no reference text): how
much speech is left untranscribed after a piece's last word (issue 16's bug), words found, and what the
transcript's plausible_text check flags. Each configuration transcribes every recording in this process
after one warm-up, its model already loaded; CPU time is this process's (all threads).

    .venv/bin/python bench/bench_asr.py        # writes bench/out/asr.json

"Before" decodes as the previous release did: each piece once (no second round for the speech after its
last word) and no no-speech rule.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jiwer

from bench.common import OUT, machine
from polsearch_assets.backends.asr import faster_whisper
from polsearch_assets.config import Settings
from polsearch_assets.core.audio.chunking import split_chunks
from polsearch_assets.core.speech.hallucinations import hallucination_suspects
from polsearch_assets.defs.resources import build_resources
from polsearch_assets_tests.fixtures import real_speech as rs

# The bench's DEV and TEST council hearings with 4 and 5 speakers (bench_real_speech.HEARINGS).
COUNCIL = [("dev_4", rs.DEV_MEETINGS, 4, 240, 102), ("test_5", rs.TEST_MEETINGS, 5, 300, 203)]
DECODING = {
    "before": {"MAX_ROUNDS": 1, "NO_SPEECH_PROB": 2.0},  # 2.0: no probability reaches it
    "now": {"MAX_ROUNDS": faster_whisper.MAX_ROUNDS, "NO_SPEECH_PROB": faster_whisper.NO_SPEECH_PROB},
}


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower().replace("--", " ")).split()


def left_after_last_word(chunks, segments) -> list[int]:
    """Per decoding window: ms of VAD speech after the last word that starts in it."""
    spoken = [w for s in segments for w in s.words]
    left = []
    for piece in split_chunks(chunks, faster_whisper.WHISPER_WINDOW_MS):
        inside = [w.end_ms for w in spoken if piece.start_ms <= w.start_ms < piece.end_ms]
        last = max(inside, default=piece.start_ms)
        left.append(sum(r.end_ms - max(r.start_ms, last) for r in piece.speech if r.end_ms > last))
    return left


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    log = logging.getLogger("bench")
    vad = build_resources(Settings())["vad"].engine
    work = rs.data_dir() / "bench-hearings"
    council = {name: rs.council_hearing(work / name, m, n, s, seed).wav for name, m, n, s, seed in COUNCIL}
    referenced = {"two_cities": rs.two_cities(), "pyannote_sample": rs.pyannote_sample()}
    chunks = {name: vad.detect(r.wav).chunks for name, r in referenced.items()}
    chunks |= {name: vad.detect(wav).chunks for name, wav in council.items()}
    wavs = {**{n: r.wav for n, r in referenced.items()}, **council}
    report: dict = {"machine": machine(), "runs": {}}
    for model in ("tiny.en", "base"):
        transcriber = faster_whisper.FasterWhisperTranscriber.from_settings(model=model)
        transcriber.transcribe(wavs["two_cities"], chunks["two_cities"], log)  # load and warm up
        for decoding, constants in DECODING.items():
            for name, value in constants.items():
                setattr(faster_whisper, name, value)
            run: dict = {"recordings": {}}
            cpu = wall = 0.0
            for name, wav in wavs.items():
                started, started_cpu = time.perf_counter(), time.process_time()
                segments = transcriber.transcribe(wav, chunks[name], log)
                wall += time.perf_counter() - started
                cpu += time.process_time() - started_cpu
                hypothesis = words(" ".join(s.text for s in segments))
                row: dict = {"words": len(hypothesis)}
                if name in referenced:
                    reference = words(referenced[name].text or "")
                    row |= {
                        "wer": jiwer.wer(" ".join(reference), " ".join(hypothesis)),
                        "ref_words": len(reference),
                    }
                    row["errors"] = round(row["wer"] * len(reference))
                left = left_after_last_word(chunks[name], segments)
                windows = split_chunks(chunks[name], faster_whisper.WHISPER_WINDOW_MS)
                row |= {
                    "windows": len(left),
                    "left_over_2s": sum(ms >= 2000 for ms in left),
                    "left_s": sum(left) / 1000,
                    "suspects": [str(s) for s in hallucination_suspects(segments, windows)],
                }
                run["recordings"][name] = row
            scored = [run["recordings"][n] for n in referenced]
            run["pooled_wer"] = sum(r["errors"] for r in scored) / sum(r["ref_words"] for r in scored)
            run["cpu_s"], run["wall_s"] = cpu, wall
            report["runs"][f"{model} {decoding}"] = run
            print(
                f"{model:<8} {decoding:<7} pooled WER {run['pooled_wer']:.3f} "
                + " ".join(f"{n} {run['recordings'][n]['wer']:.3f}" for n in referenced)
                + f" | council: words {sum(run['recordings'][n]['words'] for n in council)}, "
                f"speech left after last word {sum(run['recordings'][n]['left_s'] for n in council):.1f} s "
                f"({sum(run['recordings'][n]['left_over_2s'] for n in council)} windows >= 2 s) "
                f"| CPU {cpu:.1f} s, wall {wall:.1f} s",
                flush=True,
            )
    base_cpu = report["runs"]["base now"]["cpu_s"] / report["runs"]["tiny.en now"]["cpu_s"]
    report["base_over_tiny_cpu"] = base_cpu
    print(f"base / tiny.en CPU time (now): {base_cpu:.2f}x")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "asr.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
