"""Benchmark raw_audio + vad_chunks on long hearings; baselines measured in the same run.

    .venv/bin/python bench/bench_audio.py              # 30 min and 4 h; writes bench/out/audio.json
    .venv/bin/python bench/bench_audio.py --hours 0.5  # only the 30-minute file

Input: a 10-minute, 6-speaker hearing from the project's generator, looped by
ffmpeg to the wanted length and encoded as AAC in .m4a (what YouTube serves). Each measurement runs in a fresh process so its
peak RSS is its own. Baselines on the same file: bare ffmpeg normalization
(the floor for raw_audio) and silero-vad's stock ``get_speech_timestamps`` on the
whole file in memory (what a straightforward VAD stage does).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import OUT, machine, peak_rss_mib  # noqa: E402


def build_input(hours: float) -> Path:
    base = OUT / "bench_hearing.wav"
    if not base.exists():
        from polsearch_assets_tests.fixtures.synthetic import synthesize

        synthesize(OUT, seed=11, minutes=10, speakers=6, name="bench_hearing")
    target = OUT / f"bench_hearing_{hours:g}h.m4a"
    if not target.exists():
        base_s = float(subprocess.check_output(["soxi", "-D", str(base)], text=True))
        loops = int(hours * 3600 / base_s) + 1
        subprocess.run(
            ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-stream_loop", str(loops - 1), "-i", str(base),
             "-t", str(hours * 3600), "-c:a", "aac", "-b:a", "96k", "-ar", "44100", "-ac", "2", str(target)],
            check=True,
        )  # fmt: skip
    return target


def measure_pipeline(path: Path) -> dict[str, float]:
    """raw_audio then vad_chunks through Dagster, in this process."""
    import dagster as dg

    from polsearch_assets.core.artifacts import VAD_CHUNKS_JSON
    from polsearch_assets.defs.hearing.registration import register_hearing
    from polsearch_assets_tests.fixtures.hearing import assets_for, hearing_resources

    with tempfile.TemporaryDirectory() as tmp, dg.instance_for_test() as instance:
        resources = hearing_resources(Path(tmp))
        store = resources["artifact_store"]
        key = register_hearing(instance, store, str(path)).entry.key
        times = {}
        for asset in ("raw_audio", "vad_chunks"):
            started = time.perf_counter()
            result = dg.materialize(
                assets_for(resources),
                selection=dg.AssetSelection.assets(asset),
                partition_key=key,
                instance=instance,
                resources=resources,
            )
            times[asset] = time.perf_counter() - started
            assert result.success
        chunks = store.read_json(key, VAD_CHUNKS_JSON)
    return {
        "raw_audio_s": times["raw_audio"],
        "vad_chunks_s": times["vad_chunks"],
        "chunks": len(chunks["chunks"]),
        "speech_s": chunks["speech_ms"] / 1000,
        "peak_rss_mib": peak_rss_mib(),
        "peak_rss_children_mib": peak_rss_mib(resource.RUSAGE_CHILDREN),
    }


def measure_baseline(path: Path) -> dict[str, float]:
    """ffmpeg alone, then stock silero-vad (whole file in memory, frame-by-frame ONNX calls)."""
    import soundfile as sf
    import torch
    from silero_vad import get_speech_timestamps, load_silero_vad

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        subprocess.run(
            ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(path), "-ac", "1", "-ar", "16000",
             "-c:a", "pcm_s16le", f"{tmp}/out.wav"],
            check=True,
        )  # fmt: skip
        ffmpeg_s = time.perf_counter() - started
        started = time.perf_counter()
        audio, _ = sf.read(f"{tmp}/out.wav", dtype="float32")
        stamps = get_speech_timestamps(
            torch.from_numpy(audio), load_silero_vad(onnx=True), min_silence_duration_ms=100
        )
    return {
        "ffmpeg_s": ffmpeg_s,
        "silero_stock_s": time.perf_counter() - started,
        "silero_stock_regions": len(stamps),
        "peak_rss_mib": peak_rss_mib(),
    }


def _child(mode: str, path: Path) -> dict[str, float]:
    output = subprocess.check_output([sys.executable, __file__, "--child", mode, str(path)], text=True)
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hours", type=float, nargs="*", default=[0.5, 4.0])
    parser.add_argument("--baseline-hours", type=float, default=0.5, help="baselines only on this length")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, path = args.child
        print(json.dumps((measure_pipeline if mode == "pipeline" else measure_baseline)(Path(path))))
        return

    OUT.mkdir(exist_ok=True)
    results = []
    for hours in args.hours:
        path = build_input(hours)
        row = {"hours": hours, "audio_s": hours * 3600, "pipeline": _child("pipeline", path)}
        if hours == args.baseline_hours:
            row["baseline"] = _child("baseline", path)
        results.append(row)
        pipeline = row["pipeline"]
        line = (
            f"{hours:g} h: raw_audio {pipeline['raw_audio_s']:.1f} s, vad_chunks {pipeline['vad_chunks_s']:.1f} s "
            f"({row['audio_s'] / pipeline['vad_chunks_s']:.0f}x real time), {pipeline['chunks']} chunks, "
            f"peak RSS {pipeline['peak_rss_mib']:.0f} MiB (ffmpeg {pipeline['peak_rss_children_mib']:.0f} MiB)"
        )
        if "baseline" in row:
            base = row["baseline"]
            line += (
                f"\n  baseline: ffmpeg alone {base['ffmpeg_s']:.1f} s; stock silero-vad {base['silero_stock_s']:.1f} s, "
                f"peak RSS {base['peak_rss_mib']:.0f} MiB; ratios raw_audio/ffmpeg "
                f"{pipeline['raw_audio_s'] / base['ffmpeg_s']:.2f}, vad_chunks/stock silero "
                f"{pipeline['vad_chunks_s'] / base['silero_stock_s']:.2f}"
            )
        print(line, flush=True)
    (OUT / "audio.json").write_text(json.dumps({"machine": machine(), "results": results}, indent=1))


if __name__ == "__main__":
    main()
