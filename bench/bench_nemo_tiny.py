"""CPU time of the NeMo paths (TDT words, windowed Sortformer speakers) with tiny random models, beside the embedded ones.

    .venv/bin/python bench/bench_nemo_tiny.py              # the sample hearing looped to 10 minutes

No NeMo weights are reachable here, so this measures the backends' own paths (loading a .nemo,
batching chunks by duration, TDT greedy decoding with word timestamps; Sortformer streaming per
10-minute window, voice embeddings per window speaker, linking) on the test suite's tiny
FastConformer-TDT and Sortformer. It is a smoke test of the code paths' overhead, not of the real
models' speed (Parakeet and Sortformer do ~10^4x the work per frame). Results go to
bench/out/nemo_tiny.json.
"""

from __future__ import annotations

import json
import logging
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import OUT, looped_sample, machine  # noqa: E402
from polsearch_assets.backends.asr.faster_whisper import FasterWhisperTranscriber  # noqa: E402
from polsearch_assets.backends.asr.nemo_tdt import NemoTdtTranscriber  # noqa: E402
from polsearch_assets.backends.diarization.resemblyzer import ResemblyzerDiarizer  # noqa: E402
from polsearch_assets.backends.diarization.sortformer import SortformerDiarizer  # noqa: E402
from polsearch_assets.backends.vad.segmentation import SegmentationVad  # noqa: E402
from polsearch_assets.core.contracts import Chunk  # noqa: E402
from polsearch_assets_tests.fixtures.tiny_nemo import build_tiny_sortformer, build_tiny_tdt  # noqa: E402

MINUTES = 10


def timed(
    transcriber: object, wav: Path, chunks: list[Chunk], log: logging.Logger
) -> tuple[float, float, int]:
    started = time.perf_counter()
    transcriber.transcribe(wav, chunks[:1], log)  # load
    loaded = time.perf_counter() - started
    started = time.perf_counter()
    segments = transcriber.transcribe(wav, chunks, log)
    return loaded, time.perf_counter() - started, sum(len(s.words) for s in segments)


def main() -> None:
    log = logging.getLogger("bench")
    report: dict = {"machine": machine()}
    with tempfile.TemporaryDirectory(prefix="polsearch-bench-") as tmp:
        root = Path(tmp)
        wav = root / "hearing.wav"
        looped_sample(wav, MINUTES * 60)
        chunks = list(SegmentationVad.from_settings().detect(wav).chunks)
        speech_s = sum(c.duration_ms for c in chunks) / 1000
        started = time.perf_counter()
        model = build_tiny_tdt(root / "cache" / "tiny" / "tdt" / "tdt.nemo", root / "build")
        report["build_s"] = time.perf_counter() - started
        report["model_mib"] = model.stat().st_size / 2**20
        backends = {
            "nemo-tdt (tiny, random)": NemoTdtTranscriber.from_settings(
                model="tiny/tdt", model_cache_dir=str(root / "cache"), device="cpu", batch_size=8
            ),
            "faster-whisper tiny.en (embedded)": FasterWhisperTranscriber.from_settings(),
        }
        for name, transcriber in backends.items():
            load_s, wall_s, words = timed(transcriber, wav, chunks, log)
            report[name] = {"load_s": load_s, "wall_s": wall_s, "rtfx": speech_s / wall_s, "words": words}
            print(name, json.dumps(report[name]), flush=True)
        build_tiny_sortformer(root / "cache" / "tiny" / "sortformer" / "sortformer.nemo")
        diarizers = {
            "sortformer (tiny, random, 10-min windows)": SortformerDiarizer.from_settings(
                model="tiny/sortformer", model_cache_dir=str(root / "cache"), device="cpu"
            ),
            "resemblyzer (embedded)": ResemblyzerDiarizer.from_settings(),
        }
        regions = SegmentationVad.from_settings().detect(wav).regions
        for name, diarizer in diarizers.items():
            started = time.perf_counter()
            result = diarizer.diarize(wav, regions, log)
            wall_s = time.perf_counter() - started
            report[name] = {"wall_s": wall_s, "rtfx": MINUTES * 60 / wall_s, "speakers": len(result.speakers)}
            print(name, json.dumps(report[name]), flush=True)
    report.update({"minutes": MINUTES, "chunks": len(chunks), "speech_s": speech_s})
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "nemo_tiny.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
