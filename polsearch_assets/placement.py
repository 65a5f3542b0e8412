"""Where each step runs on Kubernetes: GPU steps and CPU steps, defined once.

With ``POLSEARCH_EXECUTOR=k8s`` every asset step is its own pod (``k8s_job_executor``); the
``dagster-k8s/config`` op tag below sets that pod's resources and scheduling. The model steps
(``POLSEARCH_K8S_GPU_STEPS``, default transcript and diarization) ask for a GPU, tolerate the
GPU nodes' taint and select them; every other step gets modest CPU requests. The GPU steps are
also in the ``gpu`` concurrency pool, whose limit (deploy/dagster.yaml) caps how many run at
once across all runs. Without Kubernetes the tags are empty: the embedded profile's UI shows no
pod settings that do not apply.
"""

from __future__ import annotations

from typing import Any

from polsearch_assets.settings import env_list, env_str

GPU_POOL = "gpu"
K8S_CONFIG_TAG = "dagster-k8s/config"
DEFAULT_GPU_STEPS = ("transcript", "diarization")


def on_kubernetes() -> bool:
    return env_str("POLSEARCH_EXECUTOR", "in_process") == "k8s"


def gpu_steps() -> tuple[str, ...]:
    return tuple(env_list("POLSEARCH_K8S_GPU_STEPS")) or DEFAULT_GPU_STEPS


def _node_selector() -> dict[str, str]:
    """``POLSEARCH_K8S_GPU_NODE_SELECTOR``: ``label=value[,label=value]``."""
    selector = {}
    for item in env_list("POLSEARCH_K8S_GPU_NODE_SELECTOR") or ["nvidia.com/gpu.present=true"]:
        label, _, value = item.partition("=")
        if not label or not value:
            raise ValueError(f"POLSEARCH_K8S_GPU_NODE_SELECTOR item {item!r} is not label=value")
        selector[label.strip()] = value.strip()
    return selector


def gpu_pod_config() -> dict[str, Any]:
    memory = env_str("POLSEARCH_K8S_GPU_MEMORY", "24Gi")  # NeMo + a 4-hour hearing's features
    container: dict[str, Any] = {
        "resources": {
            "requests": {"cpu": env_str("POLSEARCH_K8S_GPU_CPU", "4"), "memory": memory},
            "limits": {"memory": memory, "nvidia.com/gpu": env_str("POLSEARCH_K8S_GPUS_PER_STEP", "1")},
        }
    }
    if image := env_str("POLSEARCH_K8S_GPU_IMAGE", ""):
        container["image"] = image  # the NeMo image for GPU steps; the rest keep the lighter CPU image
    return {
        "container_config": container,
        "pod_spec_config": {
            "node_selector": _node_selector(),
            "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
        },
    }


def cpu_pod_config() -> dict[str, Any]:
    memory = env_str("POLSEARCH_K8S_CPU_MEMORY", "3Gi")  # ffmpeg, VAD, the embedder
    return {
        "container_config": {
            "resources": {
                "requests": {"cpu": env_str("POLSEARCH_K8S_CPU", "1"), "memory": memory},
                "limits": {"memory": memory},
            }
        }
    }


def with_model_volume(config: dict[str, Any]) -> dict[str, Any]:
    """Mount the models volume (``POLSEARCH_K8S_MODELS_PVC``, read-only) at ``MODEL_CACHE_DIR``: the .nemo
    files for the GPU steps and the embedder's ONNX export for hearing_index."""
    claim = env_str("POLSEARCH_K8S_MODELS_PVC", "")
    if not claim:
        return config
    mount = env_str("MODEL_CACHE_DIR", "/models")
    config["container_config"]["volume_mounts"] = [{"name": "models", "mount_path": mount, "read_only": True}]
    config.setdefault("pod_spec_config", {})["volumes"] = [
        {"name": "models", "persistent_volume_claim": {"claim_name": claim, "read_only": True}}
    ]
    return config


def step_tags(step: str) -> dict[str, Any]:
    """The op tags of one asset step: its pod's config on Kubernetes, nothing elsewhere."""
    if not on_kubernetes():
        return {}
    return {K8S_CONFIG_TAG: with_model_volume(gpu_pod_config() if step in gpu_steps() else cpu_pod_config())}


def step_pool(step: str) -> str | None:
    """The concurrency pool of one asset step: ``gpu`` for the GPU steps on Kubernetes."""
    return GPU_POOL if on_kubernetes() and step in gpu_steps() else None
