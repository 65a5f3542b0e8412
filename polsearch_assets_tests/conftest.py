"""Shared fixtures: a real media HTTP server on 127.0.0.1, a Dagster instance, resources on tmp dirs."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import numpy as np
import pytest
import soundfile as sf

from polsearch_assets.defs.platform.artifacts import LocalArtifactStore
from polsearch_assets.local.instance import LOCAL_DAGSTER_YAML
from polsearch_assets_tests.fixtures.hearing import hearing_resources
from polsearch_assets_tests.fixtures.media import SAMPLE_WAV, MediaServer, serve_media


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


@pytest.fixture
def media_server(media_files: dict[str, Path]) -> Iterator[MediaServer]:
    with serve_media(media_files) as server:
        yield server


@pytest.fixture(scope="session")
def nemo_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model cache holding a tiny Parakeet-architecture TDT and a tiny streaming Sortformer."""
    from polsearch_assets_tests.fixtures.tiny_nemo import build_model_cache

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
    (home / "dagster.yaml").write_text(LOCAL_DAGSTER_YAML.read_text())
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
def resources(tmp_path: Path, store: LocalArtifactStore) -> dict[str, object]:
    """Every resource of the code location on the default settings, storing under tmp_path."""
    return {**hearing_resources(tmp_path), "artifact_store": store}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every end-to-end test is slow (the whole graph, the CLI, dagster dev): the fast tier is unit/ and the
    integration tests not marked slow in their modules."""
    for item in items:
        if "e2e" in item.path.parts:
            item.add_marker(pytest.mark.slow)
