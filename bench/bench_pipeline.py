"""Benchmark the whole hearing graph on the embedded profile, against bare faster-whisper in the same run.

    .venv/bin/python bench/bench_pipeline.py                 # 10-min, 6-speaker hearing + baselines + hard audio
    .venv/bin/python bench/bench_pipeline.py --hours 4 --speakers 15 --bare batched --no-hard   # the 4-hour hearing
    .venv/bin/python bench/bench_pipeline.py --hours 4 --real --bare --no-hard   # 4 hours of real council voices
    .venv/bin/python bench/bench_pipeline.py --previous --before 58bdd8b --bare batched --no-hard
        # also the previous release's speech stages and an older revision's code (default 58bdd8b), same run

Each measurement runs in a fresh process (model loading included, as in a real run), so its
peak RSS is its own; the parent records each child's wall and CPU seconds (its own and its waited-for
children's). Results go to bench/out/pipeline-<name>.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import BEFORE, OUT, machine, peak_rss_mib, revision_env, use_revision_code  # noqa: E402

use_revision_code()  # a 'pipeline-before' child runs an older revision's polsearch_assets

SEGMENT_MINUTES = 30  # long hearings are concatenated from 30-minute generator runs (same voices throughout)


def _normalize(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split())


def build_hearing(name: str, minutes: float, speakers: int, seed: int) -> Path:
    """A generator hearing; over 30 minutes, 30-minute parts with the same voices, concatenated (WAV, RTTM, text)."""
    from polsearch_assets_tests.fixtures.synthetic import synthesize

    wav = OUT / f"{name}.wav"
    if wav.exists():
        return wav
    rttm, text, offset_s, listing = [], [], 0.0, []
    with tempfile.TemporaryDirectory() as tmp:
        part = 0
        while offset_s < minutes * 60 - 1:  # parts until the hearing is at least as long as asked
            stem = f"part{part:02d}"
            # The generator's length estimate runs about 10 % short: ask for a little more than what is missing.
            part_minutes = max(0.5, min(SEGMENT_MINUTES, (minutes * 60 - offset_s) / 60 * 1.12))
            synthesize(Path(tmp), seed=seed + part, minutes=part_minutes, speakers=speakers, name=stem)
            for line in (Path(tmp) / f"{stem}.rttm").read_text().splitlines():
                fields = line.split()
                fields[1], fields[3] = name, f"{float(fields[3]) + offset_s:.3f}"
                rttm.append(" ".join(fields))
            text.append((Path(tmp) / f"{stem}.txt").read_text())
            offset_s += sf.info(str(Path(tmp) / f"{stem}.wav")).frames / 16_000
            listing.append(f"file '{Path(tmp) / stem}.wav'")
            part += 1
        (Path(tmp) / "list.txt").write_text("\n".join(listing) + "\n")
        subprocess.run(
            ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "concat", "-safe", "0",
             "-i", str(Path(tmp) / "list.txt"), "-c", "copy", str(wav)],
            check=True,
        )  # fmt: skip
    (OUT / f"{name}.rttm").write_text("\n".join(rttm) + "\n")
    (OUT / f"{name}.txt").write_text("".join(text))
    return wav


def build_real_hearing(hours: float, seed: int) -> Path:
    """A hearing of the 9 real council members of the speakerbox wheel (all 5 meetings), as long as asked:
    their 73 clips placed again and again in new orders, with new pauses, overlaps and room noise."""
    from polsearch_assets_tests.fixtures.real_speech import DEV_MEETINGS, TEST_MEETINGS, council_hearing

    name = f"council_{hours * 60:g}min_9spk"
    return council_hearing(OUT / name, DEV_MEETINGS + TEST_MEETINGS, 9, hours * 3600, seed).wav


def make_hard(wav: Path) -> Path:
    """The same hearing buried in loud noise and babble (about 0 dB SNR): where temperature fallback kicks in."""
    hard = wav.with_name(wav.stem + "_hard.wav")
    if not hard.exists():
        audio, rate = sf.read(wav, dtype="float32")
        rng = np.random.default_rng(0)
        babble = sum(np.roll(audio, rng.integers(rate, len(audio))) for _ in range(3)) / 3
        noise = rng.standard_normal(len(audio)).astype(np.float32) * np.std(audio)
        mix = audio + 0.9 * babble + 0.8 * noise
        sf.write(hard, mix / np.max(np.abs(mix)) * 0.8, rate, subtype="PCM_16")
    return hard


# The previous release's embedded speech stages (silero-vad, resemblyzer), for the same-run comparison.
PREVIOUS = {"vad_backend": "silero", "diarization_backend": "resemblyzer", "min_speakers": 1}


def run_pipeline(wav: Path, previous: bool = False, beside: bool = False) -> dict:
    """Every asset through Dagster in this process; per-step wall time and each asset's materialization
    metadata (its model identity among them: which VAD and diarizer really ran) from the event log."""
    import dagster as dg
    from dagster._core.events import DagsterEventType

    from polsearch_assets.defs.hearing.registration import register_hearing
    from polsearch_assets_tests.fixtures.hearing import assets_for, hearing_resources

    logging.getLogger("dagster").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp, dg.instance_for_test() as instance:
        resources = hearing_resources(Path(tmp), **(PREVIOUS if previous else {}))
        store = resources["artifact_store"]
        key = register_hearing(instance, store, str(wav)).entry.key
        started, cpu_started = time.perf_counter(), _cpu_s()
        # Only when asked: a --before revision's Settings may not know the field.
        assets = assets_for(resources, **({"transcript_beside_diarization": True} if beside else {}))
        result = dg.materialize(assets, partition_key=key, instance=instance, resources=resources)
        total, cpu = time.perf_counter() - started, _cpu_s() - cpu_started
        assert result.success
        metadata = {
            record.dagster_event.asset_key.to_user_string(): {
                name: value.value
                for name, value in record.dagster_event.materialization.metadata.items()
                if isinstance(value.value, str | int | float)
            }
            for record in instance.all_logs(result.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION)
        }
        steps: dict[str, float] = {}
        starts = {}
        for record in instance.all_logs(
            result.run_id, of_type={DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS}
        ):
            if record.dagster_event.event_type == DagsterEventType.STEP_START:
                starts[record.step_key] = record.timestamp
            else:
                steps[record.step_key] = record.timestamp - starts[record.step_key]
        transcript = store.read_json(key, "transcript.json")["segments"]
        diarization = store.read_json(key, "diarization.json")
    return {
        "total_s": total,
        "cpu_s": cpu,
        "steps_s": steps,
        "metadata": metadata,
        "hypothesis": " ".join(s["text"] for s in transcript),
        "turns": diarization["turns"],
        "peak_rss_mib": peak_rss_mib(),
    }


def run_bare(wav: Path, mode: str) -> dict:
    """faster-whisper alone, same model and settings (int8, 2 threads, greedy, word timestamps), its own VAD."""
    from faster_whisper import BatchedInferencePipeline, WhisperModel

    from polsearch_assets.backends.asr.whisper_models import model_path

    started = time.perf_counter()
    model = WhisperModel(str(model_path("tiny.en")), device="cpu", compute_type="int8", cpu_threads=2)
    options = {"language": "en", "beam_size": 1, "word_timestamps": True, "vad_filter": True}
    if mode == "batched":
        segments, _ = BatchedInferencePipeline(model).transcribe(
            str(wav), batch_size=8, temperature=0.0, **options
        )
    elif mode == "sequential-fallback":  # faster-whisper's defaults: temperatures 0.0 .. 1.0
        segments, _ = model.transcribe(str(wav), **options)
    else:  # sequential, no fallback
        segments, _ = model.transcribe(str(wav), temperature=0.0, **options)
    text = " ".join(s.text for s in segments)
    return {"total_s": time.perf_counter() - started, "hypothesis": text, "peak_rss_mib": peak_rss_mib()}


def _cpu_s() -> float:
    """CPU seconds (user + system) of this process and of its children that have been waited for."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _child(mode: str, wav: Path, env: dict[str, str] | None = None) -> dict:
    """One measurement in a fresh process, with that process's whole wall and CPU time (imports and
    model loading included)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    command = [sys.executable, __file__, "--child", mode, str(wav)]
    output = subprocess.check_output(command, text=True, env=env)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return {**json.loads(output.strip().splitlines()[-1]), "process_wall_s": wall, "process_cpu_s": cpu}


def wer(wav: Path, hypothesis: str) -> float | None:
    """Word error rate against the hearing's text; None for the real-voice hearings, which have none."""
    import jiwer

    if not wav.with_suffix(".txt").exists():
        return None
    return jiwer.wer(_normalize(wav.with_suffix(".txt").read_text()), _normalize(hypothesis))


def diarization_report(wav: Path, turns: list[dict]) -> dict:
    """DER (collar 0.25 s) and whether each true speaker keeps one label from the first hour to the last."""
    from pyannote.core import Annotation, Segment
    from pyannote.metrics.diarization import DiarizationErrorRate

    reference, hypothesis = Annotation(), Annotation()
    for line in wav.with_suffix(".rttm").read_text().splitlines():
        f = line.split()
        reference[Segment(float(f[3]), float(f[3]) + float(f[4]))] = f[7]
    for t in turns:
        hypothesis[Segment(t["start_ms"] / 1000, t["end_ms"] / 1000)] = t["speaker"]
    duration = max(s.end for s in reference.itersegments())
    window = min(3600.0, duration / 2)

    def labels_in(start: float, end: float) -> dict[str, str]:
        """Each true speaker -> the hypothesis label covering most of its speech in [start, end]."""
        ref, hyp = reference.crop(Segment(start, end)), hypothesis.crop(Segment(start, end))
        result = {}
        for speaker in ref.labels():
            timeline = ref.label_timeline(speaker)
            overlap = {h: hyp.label_timeline(h).crop(timeline).duration() for h in hyp.labels()}
            if overlap and max(overlap.values()) > 0:
                result[speaker] = max(overlap, key=overlap.get)
        return result

    first, last = labels_in(0, window), labels_in(duration - window, duration)
    shared = sorted(set(first) & set(last))
    return {
        "der": DiarizationErrorRate(collar=0.25)(reference, hypothesis),
        "true_speakers": len(reference.labels()),
        "found_speakers": len(hypothesis.labels()),
        "consistency_window_s": window,
        "speakers_in_first_and_last_window": len(shared),
        "same_label_first_and_last": sum(first[s] == last[s] for s in shared),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hours", type=float, default=10 / 60)
    parser.add_argument("--speakers", type=int, default=6)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument(
        "--real", action="store_true", help="real council voices (9 speakers) instead of generated ones"
    )
    parser.add_argument(
        "--bare", nargs="*", default=["batched", "sequential"], help="bare faster-whisper baselines"
    )
    parser.add_argument(
        "--no-hard", action="store_true", help="skip the temperature-fallback runs on hard audio"
    )
    parser.add_argument(
        "--previous",
        action="store_true",
        help="also the previous release's speech stages (silero, resemblyzer)",
    )
    parser.add_argument(
        "--before",
        nargs="?",
        const=BEFORE,
        metavar="REV",
        help=f"also the whole graph with git revision REV's polsearch_assets (default {BEFORE})",
    )
    parser.add_argument(
        "--beside",
        action="store_true",
        help="the graph with POLSEARCH_TRANSCRIPT_BESIDE_DIARIZATION (the transcript's work beside the "
        "diarization); --before runs as it is",
    )
    parser.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, path = args.child
        if mode.startswith("pipeline"):
            result = run_pipeline(
                Path(path), previous=mode == "pipeline-previous", beside=mode == "pipeline-beside"
            )
        else:
            result = run_bare(Path(path), mode)
        print(json.dumps(result))
        return

    OUT.mkdir(exist_ok=True)
    if args.real:
        wav = build_real_hearing(args.hours, args.seed)
        name = wav.stem
    else:
        name = f"hearing_{args.hours * 60:g}min_{args.speakers}spk"
        wav = build_hearing(name, args.hours * 60, args.speakers, args.seed)
    audio_s = sf.info(str(wav)).frames / 16_000
    report: dict = {
        "machine": machine(),
        "audio": name,
        "audio_s": audio_s,
    }

    def graph(mode: str, env: dict[str, str] | None = None) -> dict:
        run = _child(mode, wav, env)
        times = ("total_s", "cpu_s", "process_wall_s", "process_cpu_s", "steps_s", "peak_rss_mib")
        return {
            **{k: run[k] for k in times},
            "real_time_factor": audio_s / run["total_s"],
            "wer": wer(wav, run["hypothesis"]),
            **diarization_report(wav, run["turns"]),
            "metadata": run["metadata"],
        }

    report["beside"] = args.beside
    report["pipeline"] = graph("pipeline-beside" if args.beside else "pipeline")
    print(json.dumps(report["pipeline"], indent=1), flush=True)
    if args.previous:
        report["previous_release"] = graph("pipeline-previous")
        report["pipeline_over_previous_release"] = (
            report["pipeline"]["total_s"] / report["previous_release"]["total_s"]
        )
        print("previous release", json.dumps(report["previous_release"]), flush=True)
    if args.before:
        with tempfile.TemporaryDirectory() as work:
            report["before"] = {
                "revision": args.before,
                **graph("pipeline", revision_env(args.before, Path(work))),
            }
        report["pipeline_over_before"] = report["pipeline"]["total_s"] / report["before"]["total_s"]
        print(f"before ({args.before})", json.dumps(report["before"]), flush=True)
    if args.bare:
        report["bare"] = {}
        for mode in args.bare:
            bare = _child(mode, wav)
            report["bare"][mode] = {
                "total_s": bare["total_s"],
                "process_cpu_s": bare["process_cpu_s"],
                "wer": wer(wav, bare["hypothesis"]),
                "peak_rss_mib": bare["peak_rss_mib"],
            }
            print(mode, json.dumps(report["bare"][mode]), flush=True)
        floor = min(b["total_s"] for b in report["bare"].values())
        report["pipeline_over_bare_whisper"] = report["pipeline"]["total_s"] / floor
    if not args.no_hard:
        hard = make_hard(wav)
        report["hard_audio"] = {}
        for mode in ("sequential-fallback", "sequential", "batched"):
            result = _child(mode, hard)
            report["hard_audio"][mode] = {"total_s": result["total_s"], "wer": wer(wav, result["hypothesis"])}
            print("hard", mode, json.dumps(report["hard_audio"][mode]), flush=True)
        transcript_only = _child("pipeline", hard)
        report["hard_audio"]["polsearch transcript step"] = {
            "total_s": transcript_only["steps_s"]["transcript"],
            "wer": wer(wav, transcript_only["hypothesis"]),
        }
    # The run's own two threads keep the 1-minute load near 2; clearly above it, something shared the cores.
    report["load_at_end"] = os.getloadavg()[0]
    # A --beside run keeps its own file: it would otherwise replace the default run's results.
    (OUT / f"pipeline-{name}{'-beside' if args.beside else ''}.json").write_text(json.dumps(report, indent=1))
    print(json.dumps({k: v for k, v in report.items() if k != "pipeline"}, indent=1))


if __name__ == "__main__":
    main()
