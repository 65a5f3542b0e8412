"""Shared fixtures: a real media HTTP server on 127.0.0.1, a Dagster instance, resources on tmp dirs."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import dagster as dg
import numpy as np
import pytest
import soundfile as sf

from polsearch_assets.resources.artifacts import LocalArtifactStore
from polsearch_assets.resources.audio import MediaFetcher, VadChunker

from .local_http import serving

REPO = Path(__file__).resolve().parents[1]
SAMPLE_DIR = REPO / "samples" / "sample_hearing"
SAMPLE_WAV = SAMPLE_DIR / "sample_hearing.wav"
SAMPLE_RTTM = SAMPLE_DIR / "sample_hearing.rttm"


@pytest.fixture(scope="session")
def media_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The sample hearing in several containers, plus bad files, all made here with ffmpeg."""
    root = tmp_path_factory.mktemp("media")
    files = {"sample.wav": root / "sample.wav"}
    shutil.copyfile(SAMPLE_WAV, files["sample.wav"])
    for name, args in {
        "sample.mp3": ["-c:a", "libmp3lame", "-b:a", "64k", "-ar", "44100", "-ac", "2"],
        "sample.mp4": [
            "-f",
            "lavfi",
            "-i",
            "color=c=black:s=64x64:r=5",
            "-shortest",
            "-c:v",
            "mpeg4",
            "-c:a",
            "aac",
        ],
    }.items():
        files[name] = root / name
        subprocess.run(
            [
                "ffmpeg",
                "-nostdin",
                "-loglevel",
                "error",
                "-y",
                "-i",
                str(SAMPLE_WAV),
                *args,
                str(files[name]),
            ],
            check=True,
        )
    files["notaudio.mp4"] = root / "notaudio.mp4"
    files["notaudio.mp4"].write_text("this is a text file pretending to be a video\n" * 200)
    files["empty.wav"] = root / "empty.wav"
    files["empty.wav"].write_bytes(b"")
    files["silent.wav"] = root / "silent.wav"
    sf.write(files["silent.wav"], np.zeros(16_000 * 12, dtype=np.float32), 16_000, subtype="PCM_16")
    return files


@dataclass
class MediaServer:
    base_url: str
    files: dict[str, Path]  # name -> file served at /<name>; add to it to make a 404 path appear
    requests: Counter[str] = field(default_factory=Counter)
    fail_first: dict[str, int] = field(default_factory=dict)  # path -> how many 503s before serving

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path}"


_CONTENT_TYPES = {".wav": "audio/wav", ".mp3": "audio/mpeg", ".mp4": "video/mp4"}


@contextmanager
def serve_media(files: dict[str, Path]) -> Iterator[MediaServer]:
    """A real HTTP server on 127.0.0.1 serving ``files`` by name; ``fail_first`` makes a path answer 503."""
    state = MediaServer(base_url="", files=dict(files))

    class Handler(BaseHTTPRequestHandler):
        def _serve(self, with_body: bool) -> None:
            name = self.path.lstrip("/").split("?")[0]
            state.requests[name] += 1
            if state.requests[name] <= state.fail_first.get(name, 0):
                self.send_error(503, "Service Unavailable")
                return
            source = state.files.get(name.removeprefix("flaky-"))
            if source is None:
                self.send_error(404, "Not Found")
                return
            body = source.read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", _CONTENT_TYPES.get(source.suffix, "application/octet-stream"))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if with_body:
                self.wfile.write(body)

        def do_GET(self) -> None:
            self._serve(with_body=True)

        def do_HEAD(self) -> None:
            self._serve(with_body=False)

        def log_message(self, *args: object) -> None:
            pass

    with serving(Handler) as base_url:
        state.base_url = base_url
        yield state


@pytest.fixture
def media_server(media_files: dict[str, Path]) -> Iterator[MediaServer]:
    with serve_media(media_files) as server:
        yield server


@pytest.fixture(scope="session")
def nemo_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model cache holding a tiny Parakeet-architecture TDT and a tiny streaming Sortformer."""
    from .tiny_nemo import build_model_cache

    return build_model_cache(tmp_path_factory.mktemp("model-cache"), tmp_path_factory.mktemp("nemo-build"))


@pytest.fixture(scope="session")
def onnx_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled all-MiniLM-L6-v2 exported to ONNX by `polsearch export-embedder`, as a user would."""
    from click.testing import CliRunner

    from polsearch_assets.cli import main

    out = tmp_path_factory.mktemp("fastembed") / "all-MiniLM-L6-v2-onnx"
    result = CliRunner().invoke(main, ["export-embedder", str(out)])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    """Environment for the polsearch CLI: a fresh DAGSTER_HOME with the project's dagster.yaml, and
    artifacts and index under tmp_path."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
    return {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "POLSEARCH_ARTIFACT_ROOT": str(tmp_path / "artifacts"),
        "POLSEARCH_LANCEDB_URI": str(tmp_path / "lancedb"),
    }


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as test_instance:
        yield test_instance


@pytest.fixture
def store(tmp_path: Path) -> LocalArtifactStore:
    return LocalArtifactStore(root=str(tmp_path / "artifacts"))


@pytest.fixture
def resources(store: LocalArtifactStore) -> dict[str, object]:
    return {
        "artifact_store": store,
        "media_fetcher": MediaFetcher(socket_timeout_s=5.0),
        "vad": VadChunker(),
    }


def hearing_resources(root: Path) -> dict[str, object]:
    """Every resource of the hearing graph, on the embedded backends, storing under ``root``."""
    from polsearch_assets.resources.backends import configured_backends
    from polsearch_assets.resources.index import LanceIndex

    backends = configured_backends()
    return {
        "artifact_store": LocalArtifactStore(root=str(root / "artifacts")),
        "media_fetcher": MediaFetcher(socket_timeout_s=5.0),
        "vad": VadChunker(),
        "transcriber": backends.transcriber,
        "diarizer": backends.diarizer,
        "embedder": backends.embedder,
        "lance_index": LanceIndex(uri=str(root / "lancedb")),
    }


def backends_from_env(monkeypatch: pytest.MonkeyPatch, **env: str):
    """The backends a code location would build with ``env`` set (the cached set is rebuilt around it)."""
    from polsearch_assets.resources.backends import configured_backends

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    configured_backends.cache_clear()
    try:
        return configured_backends()
    finally:
        configured_backends.cache_clear()


def run_hearing(
    instance: dg.DagsterInstance, resources: dict[str, object], source: str | Path
) -> tuple[str, dg.ExecuteInProcessResult]:
    """Register ``source`` and materialize every asset of it with its checks, as hearing_pipeline does."""
    from polsearch_assets.checks import HEARING_CHECKS
    from polsearch_assets.hearings import register_hearing
    from polsearch_assets.jobs import HEARING_ASSETS

    store = resources["artifact_store"]
    key = register_hearing(instance, store, str(source)).entry.key
    result = dg.materialize(
        [*HEARING_ASSETS, *HEARING_CHECKS],
        partition_key=key,
        instance=instance,
        resources=resources,
        raise_on_error=False,
    )
    return key, result


def run_checks(
    instance: dg.DagsterInstance, resources: dict[str, object], key: str, selection: dg.AssetSelection
) -> dg.ExecuteInProcessResult:
    """Execute checks (and any assets in ``selection``) of one hearing, as the UI's "Execute checks" does."""
    from polsearch_assets.checks import HEARING_CHECKS
    from polsearch_assets.jobs import HEARING_ASSETS

    job = dg.define_asset_job("checks_of_one_hearing", selection=selection)
    defs = dg.Definitions(assets=HEARING_ASSETS, asset_checks=HEARING_CHECKS, jobs=[job], resources=resources)
    # Check-only selections carry the partition as a tag: execute_in_process(partition_key=) wants an asset.
    return defs.resolve_job_def(job.name).execute_in_process(
        instance=instance, tags={"dagster/partition": key}, raise_on_error=False
    )
