"""Every setting is declared once (``config.Settings``) and reaches the object that uses it."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, get_args

import dagster as dg
import pytest
from pydantic_core import PydanticUndefined

from polsearch_assets.backends.asr.registry import TRANSCRIBERS
from polsearch_assets.backends.diarization.registry import DIARIZERS
from polsearch_assets.backends.embedding.registry import EMBEDDERS
from polsearch_assets.backends.profiles import PROFILES
from polsearch_assets.cli.remote import api_for
from polsearch_assets.config import (
    AsrBackend,
    DiarizationBackend,
    EmbeddingBackend,
    Profile,
    Settings,
    settings_table,
)
from polsearch_assets.definitions import build_definitions
from polsearch_assets.local.instance import instance_home
from polsearch_assets_tests.fixtures.hearing import hearing_resources, ingest_audio
from polsearch_assets_tests.fixtures.media import REPO


def code_version(location: dg.Definitions, asset: str) -> str:
    return str(location.resolve_asset_graph().get(dg.AssetKey(asset)).code_version)


def test_the_vad_backend_cpu_threads_and_onnx_cache_reach_the_vad(tmp_path: Path) -> None:
    location = build_definitions(Settings(vad_backend="silero", cpu_threads=3))
    vad = location.resources["vad"].engine
    assert vad.model_identity.startswith("silero-vad-") and vad.cpu_threads == 3
    assert "silero-vad-" in code_version(location, "vad_chunks")
    location = build_definitions(Settings(cpu_threads=3, onnx_cache_dir=str(tmp_path / "onnx")))
    vad = location.resources["vad"].engine
    assert (vad.cpu_threads, vad.onnx_cache_dir) == (3, str(tmp_path / "onnx"))
    assert "segmentation-3.0" in code_version(location, "vad_chunks")


def test_an_unknown_vad_backend_is_refused_when_settings_load() -> None:
    with pytest.raises(ValueError, match="POLSEARCH_VAD_BACKEND='bogus'"):
        Settings.from_env({"POLSEARCH_VAD_BACKEND": "bogus"})


@pytest.mark.slow
def test_silero_is_what_vad_chunks_runs_when_chosen(instance, tmp_path: Path, media_files) -> None:
    resources = hearing_resources(tmp_path, vad_backend="silero")
    _, result = ingest_audio(instance, resources, str(media_files["sample.wav"]))
    assert result.success
    (materialization,) = result.asset_materializations_for_node("vad_chunks")
    assert str(materialization.metadata["model"].value).startswith("silero-vad-")


# --- every setting reaches the object that uses it ------------------------------------------------------


@functools.cache  # the baselines repeat; Settings is frozen, so hashable
def _location(settings: Settings) -> dg.Definitions:
    return build_definitions(settings)


def _bound(settings: Settings, name: str) -> Any:
    """The object a resource key stands for: a model stage's engine, or the resource itself."""
    resource = _location(settings).resources[name]
    return getattr(resource, "engine", resource)


def _resource(name: str, attribute: str) -> Callable[[Settings], Any]:
    return lambda settings: getattr(_bound(settings, name), attribute)


def _k8s_tags(step: str) -> Callable[[Settings], Any]:
    return lambda settings: json.loads(
        _location(settings).resolve_assets_def(step).op.tags.get("dagster-k8s/config", "null")
    )


def _executor_config(settings: Settings) -> Any:
    return _location(settings).executor.apply_config_mapping({}).value["config"]["max_concurrent"]


def _schedule(name: str) -> Callable[[Settings], Any]:
    return lambda settings: _location(settings).resolve_schedule_def(name)


def _sensor(name: str) -> Callable[[Settings], Any]:
    return lambda settings: _location(settings).resolve_sensor_def(name)


def _client(attribute: str) -> Callable[[Settings], Any]:
    return lambda settings: getattr(api_for(None, settings), attribute)


@dataclass(frozen=True)
class Reaches:
    """Setting ``field`` to ``value`` (with ``given`` also set) makes ``probe`` see ``expected``, which it does not
    see with ``given`` alone."""

    value: Any
    probe: Callable[[Settings], Any]
    expected: Any
    given: dict[str, Any] = field(default_factory=dict)


def consumers(tmp: Path) -> dict[str, list[Reaches]]:
    nemo = {"asr_backend": "nemo-tdt", "diarization_backend": "sortformer"}
    s3 = {"artifact_root": "s3://bucket/artifacts", "lancedb_uri": "s3://bucket/lancedb"}
    k8s = {"executor": "k8s"}

    def gpu_pod(settings: Settings) -> dict[str, Any]:
        return _k8s_tags("transcript")(settings)

    def resources(settings: Settings) -> dict[str, Any]:
        return gpu_pod(settings)["container_config"]["resources"]

    def cpu_resources(settings: Settings) -> dict[str, Any]:
        return _k8s_tags("raw_audio")(settings)["container_config"]["resources"]

    return {
        "profile": [
            Reaches(
                "production",
                lambda s: type(_bound(s, "transcriber")).__name__,
                "NemoTdtTranscriber",
            )
        ],
        "asr_backend": [
            Reaches(
                "nemo-tdt",
                lambda s: type(_bound(s, "transcriber")).__name__,
                "NemoTdtTranscriber",
            )
        ],
        "diarization_backend": [
            Reaches(
                "resemblyzer",
                lambda s: type(_bound(s, "diarizer")).__name__,
                "ResemblyzerDiarizer",
            )
        ],
        "embedding_backend": [
            Reaches("fastembed", lambda s: type(_bound(s, "embedder")).__name__, "FastEmbedEmbedder"),
            Reaches(
                "sentence-transformers",
                lambda s: type(_bound(s, "embedder")).__name__,
                "SentenceTransformerEmbedder",
            ),
        ],
        "word_speakers": [
            Reaches("frame-probabilities", _resource("word_speakers", "rule"), "frame-probabilities", nemo)
        ],
        "cpu_threads": [
            Reaches(3, _resource("vad", "cpu_threads"), 3),
            Reaches(3, _resource("transcriber", "cpu_threads"), 3),
            Reaches(3, _resource("diarizer", "cpu_threads"), 3),
            Reaches(3, _resource("diarizer", "cpu_threads"), 3, {"diarization_backend": "resemblyzer"}),
            Reaches(3, _resource("embedder", "threads"), 3),
            Reaches(3, _resource("embedder", "threads"), 3, {"embedding_backend": "fastembed"}),
        ],
        "whisper_model": [Reaches("base", _resource("transcriber", "model"), "base")],
        "whisper_cache_dir": [Reaches(str(tmp / "w"), _resource("transcriber", "cache_dir"), str(tmp / "w"))],
        "model_cache_dir": [
            Reaches(str(tmp / "m"), _resource("transcriber", "model_cache_dir"), str(tmp / "m"), nemo),
            Reaches(str(tmp / "m"), _resource("diarizer", "model_cache_dir"), str(tmp / "m"), nemo),
            Reaches(
                "/cache",
                lambda s: gpu_pod(s)["container_config"]["volume_mounts"][0]["mount_path"],
                "/cache",
                {**k8s, "k8s_models_pvc": "models"},
            ),
        ],
        "nemo_asr_model": [Reaches("a.nemo", _resource("transcriber", "model"), "a.nemo", nemo)],
        "nemo_diar_model": [Reaches("d.nemo", _resource("diarizer", "model"), "d.nemo", nemo)],
        "nemo_batch_size": [Reaches(3, _resource("transcriber", "batch_size"), 3, nemo)],
        "nemo_device": [
            Reaches("cpu", _resource("transcriber", "device"), "cpu", nemo),
            Reaches("cpu", _resource("diarizer", "device"), "cpu", nemo),
        ],
        "diar_window_s": [Reaches(300.0, _resource("diarizer", "window_s"), 300.0, nemo)],
        "diar_overlap_s": [Reaches(30.0, _resource("diarizer", "overlap_s"), 30.0, nemo)],
        "speaker_threshold": [
            Reaches(0.42, _resource("diarizer", "threshold"), 0.42),
            Reaches(0.42, _resource("diarizer", "threshold"), 0.42, {"diarization_backend": "resemblyzer"}),
            Reaches(0.42, _resource("diarizer", "link_threshold"), 0.42, nemo),
        ],
        "min_speakers": [
            Reaches(3, _resource("diarizer", "min_speakers"), 3),
            Reaches(3, _resource("diarizer", "min_speakers"), 3, {"diarization_backend": "resemblyzer"}),
        ],
        "max_speakers": [
            Reaches(9, _resource("diarizer", "max_speakers"), 9),
            Reaches(9, _resource("diarizer", "max_speakers"), 9, {"diarization_backend": "resemblyzer"}),
            Reaches(9, _resource("diarizer", "max_speakers"), 9, nemo),
        ],
        "speaker_match_threshold": [Reaches(0.8, _resource("speaker_matching", "threshold"), 0.8)],
        "embedding_model_path": [
            Reaches(str(tmp / "e"), _resource("embedder", "model_path"), str(tmp / "e")),
            Reaches(
                str(tmp / "e"),
                _resource("embedder", "model_path"),
                str(tmp / "e"),
                {"embedding_backend": "fastembed"},
            ),
        ],
        "embedding_cache_dir": [
            Reaches(
                str(tmp / "f"),
                _resource("embedder", "cache_dir"),
                str(tmp / "f"),
                {"embedding_backend": "fastembed"},
            )
        ],
        "onnx_cache_dir": [
            Reaches(str(tmp / "o"), _resource("vad", "onnx_cache_dir"), str(tmp / "o")),
            Reaches(str(tmp / "o"), _resource("diarizer", "onnx_cache_dir"), str(tmp / "o")),
            Reaches(str(tmp / "o"), _resource("embedder", "onnx_cache_dir"), str(tmp / "o")),
        ],
        "vad_backend": [
            Reaches("silero", lambda s: _resource("vad", "model_identity")(s).split("-")[0], "silero")
        ],
        "vad_threshold": [Reaches(0.6, _resource("vad", "threshold"), 0.6)],
        "min_chunk_s": [Reaches(10.0, _resource("vad", "min_chunk_s"), 10.0)],
        "max_chunk_s": [Reaches(30.0, _resource("vad", "max_chunk_s"), 30.0)],
        "min_duration_s": [Reaches(5.0, _resource("media_fetcher", "min_duration_s"), 5.0)],
        "max_duration_s": [Reaches(60.0, _resource("media_fetcher", "max_duration_s"), 60.0)],
        "max_download_mb": [Reaches(5.0, _resource("media_fetcher", "max_download_mb"), 5.0)],
        "socket_timeout_s": [Reaches(5.0, _resource("media_fetcher", "socket_timeout_s"), 5.0)],
        "home": [
            Reaches(
                str(tmp / "h2"),
                _resource("artifact_store", "root"),
                str((tmp / "h2" / "artifacts").resolve()),
            ),
            Reaches(
                str(tmp / "h2"), _resource("lance_index", "uri"), str((tmp / "h2" / "lancedb").resolve())
            ),
        ],
        "dagster_home": [
            Reaches(
                str(tmp / "d"), lambda s: str(instance_home(s)), str(tmp / "d"), {"home": str(tmp / "h")}
            ),
        ],
        "artifact_root": [Reaches(str(tmp / "a"), _resource("artifact_store", "root"), str(tmp / "a"))],
        "lancedb_uri": [Reaches(str(tmp / "l"), _resource("lance_index", "uri"), str(tmp / "l"))],
        "s3_endpoint_url": [
            Reaches(
                "http://127.0.0.1:9", _resource("artifact_store", "endpoint_url"), "http://127.0.0.1:9", s3
            ),
            Reaches("http://127.0.0.1:9", _resource("lance_index", "endpoint_url"), "http://127.0.0.1:9", s3),
        ],
        "s3_region": [
            Reaches("nyc3", _resource("artifact_store", "region"), "nyc3", s3),
            Reaches("nyc3", _resource("lance_index", "region"), "nyc3", s3),
        ],
        "channels_file": [
            Reaches(str(tmp / "c.yaml"), _resource("uploads_watch", "channels_file"), str(tmp / "c.yaml")),
            Reaches(
                str(tmp / "c.yaml"), lambda s: _sensor("youtube_uploads")(s).default_status.value, "RUNNING"
            ),
            Reaches(str(tmp / "c.yaml"), _resource("health", "uploads_configured"), True),
        ],
        "channels": [
            Reaches("UCxyz", _resource("uploads_watch", "channels"), "UCxyz"),
            Reaches(
                "UCxyz",
                lambda s: _schedule("pipeline_health_every_15_min")(s).default_status.value,
                "RUNNING",
            ),
        ],
        "uploads_interval_s": [
            Reaches(120, lambda s: _sensor("youtube_uploads")(s).minimum_interval_seconds, 120),
            Reaches(120, _resource("health", "uploads_interval_s"), 120),
        ],
        "max_probes_per_tick": [Reaches(3, _resource("uploads_watch", "max_probes_per_tick"), 3)],
        "index_lag_hours": [Reaches(2.0, _resource("health", "index_lag_hours"), 2.0)],
        "index_freshness_hours": [
            Reaches(
                5.0,
                lambda s: (
                    _location(s)
                    .resolve_asset_graph()
                    .get(dg.AssetKey("hearing_index"))
                    .freshness_policy.fail_window.to_timedelta()
                ),
                timedelta(hours=5),
            )
        ],
        "webhook_urls": [
            Reaches(
                "http://127.0.0.1:9/hook",
                _resource("webhooks", "urls"),
                dg.EnvVar("POLSEARCH_WEBHOOK_URLS"),
                {"webhook_secret": "s"},
            ),
            Reaches(
                "http://127.0.0.1:9/hook",
                lambda s: _sensor("notify_hearing_indexed")(s).default_status.value,
                "RUNNING",
                {"webhook_secret": "s"},
            ),
        ],
        "webhook_secret": [
            # the secret itself only ever reaches the resource through the environment (EnvVar), never the UI
            Reaches(
                "s",
                _resource("webhooks", "secret"),
                dg.EnvVar("POLSEARCH_WEBHOOK_SECRET"),
                {},
            ),
        ],
        "audio_retention_days": [
            Reaches(
                7.0,
                lambda s: (
                    _schedule("audio_retention_daily")(s)
                    .evaluate_tick(dg.build_schedule_context())
                    .run_requests[0]
                    .run_config.get("ops", {})
                    .get("prune_intermediate_audio", {})
                    .get("config", {})
                    .get("older_than_days")
                ),
                7.0,
            )
        ],
        "executor": [Reaches("multiprocess", lambda s: _location(s).executor.name, "multiprocess")],
        # diarization starts the transcript's work beside it, so it binds the transcriber too
        "transcript_beside_diarization": [
            Reaches(
                True,
                lambda s: (
                    "transcriber" in _location(s).resolve_assets_def("diarization").required_resource_keys
                ),
                True,
            )
        ],
        "max_concurrent_steps": [
            Reaches(5, _executor_config, 5, {"executor": "multiprocess"}),
            Reaches(5, _executor_config, 5, k8s),
        ],
        "k8s_gpu_steps": [
            Reaches(
                "diarization", lambda s: _location(s).resolve_assets_def("transcript").op.pools, set(), k8s
            )
        ],
        "k8s_gpus_per_step": [Reaches("2", lambda s: resources(s)["limits"]["nvidia.com/gpu"], "2", k8s)],
        "k8s_gpu_memory": [Reaches("48Gi", lambda s: resources(s)["limits"]["memory"], "48Gi", k8s)],
        "k8s_gpu_cpu": [Reaches("8", lambda s: resources(s)["requests"]["cpu"], "8", k8s)],
        "k8s_gpu_node_selector": [
            Reaches(
                "pool=gpu", lambda s: gpu_pod(s)["pod_spec_config"]["node_selector"], {"pool": "gpu"}, k8s
            )
        ],
        "k8s_gpu_image": [
            Reaches("nemo:1", lambda s: gpu_pod(s)["container_config"].get("image"), "nemo:1", k8s)
        ],
        "k8s_models_pvc": [
            Reaches(
                "models",
                lambda s: (
                    gpu_pod(s)["pod_spec_config"]
                    .get("volumes", [{}])[0]
                    .get("persistent_volume_claim", {})
                    .get("claim_name")
                ),
                "models",
                k8s,
            )
        ],
        "k8s_cpu": [Reaches("2", lambda s: cpu_resources(s)["requests"]["cpu"], "2", k8s)],
        "k8s_cpu_memory": [Reaches("6Gi", lambda s: cpu_resources(s)["limits"]["memory"], "6Gi", k8s)],
        "dagster_url": [Reaches("http://127.0.0.1:9", _client("url"), "http://127.0.0.1:9")],
        "dagster_token": [Reaches("t0k", lambda s: _client("headers")(s).get("Authorization"), "Bearer t0k")],
        "dagster_header": [
            Reaches("X-Team: search", lambda s: _client("headers")(s).get("X-Team"), "search")
        ],
        "dagster_location": [Reaches("elsewhere", _client("location"), "elsewhere")],
        "dagster_timeout_s": [Reaches("120", _client("timeout_s"), 120.0)],
        "stale_budget_s": [
            Reaches(20.0, lambda s: _sensor("stale_hearings")(s).metadata["budget_s"].value, 20.0)
        ],
    }


def test_every_setting_reaches_the_object_that_uses_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each setting, changed from its default on its own (with what it needs), arrives in its consumer; a setting
    without an entry here fails, so a new setting comes with the proof that it is wired."""
    base = {"home": str(tmp_path / "h")}
    table = consumers(tmp_path)
    assert sorted(table) == sorted(Settings.model_fields), (
        "a setting without a consumer check (or a stale one)"
    )
    for name, cases in table.items():
        for case in cases:
            given = {**base, **case.given}
            before = case.probe(Settings(**given))
            after = case.probe(Settings(**(given | {name: case.value})))
            assert (after, before != after) == (case.expected, True), (name, case, before, after)


def test_no_module_but_the_settings_reads_the_environment() -> None:
    """``config.py`` reads every variable; elsewhere the environment is only ever written (DAGSTER_HOME for Dagster
    itself), and no click option reads a variable behind the settings' back."""
    package = REPO / "polsearch_assets"
    read = re.compile(r"getenv|os\.environ(?!\[\"[A-Z_]+\"\] = )|import environ|envvar=")
    offenders = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for path in package.rglob("*.py")
        if path != package / "config.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if read.search(line)
    ]
    assert offenders == []


def test_the_transcript_beside_the_diarization_is_refused_with_an_executor_of_many_processes() -> None:
    for executor in ("multiprocess", "k8s"):
        with pytest.raises(
            ValueError, match=r"POLSEARCH_TRANSCRIPT_BESIDE_DIARIZATION=.*needs POLSEARCH_EXECUTOR"
        ):
            Settings.from_env(
                {"POLSEARCH_TRANSCRIPT_BESIDE_DIARIZATION": "1", "POLSEARCH_EXECUTOR": executor}
            )


def test_each_backend_choice_is_a_registered_engine() -> None:
    """The settings' choices and the registries name the same engines (a registry line without a choice, or a
    choice without an engine, would fail only at run time)."""
    assert set(get_args(AsrBackend)) == set(TRANSCRIBERS)
    assert set(get_args(DiarizationBackend)) == set(DIARIZERS)
    assert set(get_args(EmbeddingBackend)) == set(EMBEDDERS)
    assert set(get_args(Profile)) == set(PROFILES)
    for profile in PROFILES.values():
        assert profile["asr_backend"] in TRANSCRIBERS and profile["diarization_backend"] in DIARIZERS
        assert profile["embedding_backend"] in EMBEDDERS


def test_the_configuration_table_lists_each_choice() -> None:
    table = settings_table()
    row = next(line for line in table.splitlines() if line.startswith("| `POLSEARCH_VAD_BACKEND`"))
    assert row.endswith("Choices: `segmentation`, `silero` |")


def test_an_engine_takes_its_defaults_from_the_settings() -> None:
    """No engine restates a setting's default (resemblyzer once split into 1 speaker where the setting said 2;
    since issue 24 the setting says 1: a lone speaker stays one)."""
    defaults = Settings()
    for engine in (*TRANSCRIBERS.values(), *DIARIZERS.values(), *EMBEDDERS.values()):
        for name in engine.settings_fields():
            assert engine.model_fields[name].default is PydanticUndefined, (engine, name)
        built = engine.from_settings(defaults)
        for name, source in engine.settings_fields().items():
            assert getattr(built, name) == getattr(defaults, source), (engine, name)
    assert DIARIZERS["resemblyzer"].from_settings().min_speakers == defaults.min_speakers == 1
