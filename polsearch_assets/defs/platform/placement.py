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

from dataclasses import dataclass
from typing import Any

from polsearch_assets.config import Settings, comma_items

GPU_POOL = "gpu"
K8S_CONFIG_TAG = "dagster-k8s/config"


@dataclass(frozen=True)
class Placement:
    settings: Settings

    @property
    def on_kubernetes(self) -> bool:
        return self.settings.executor == "k8s"

    @property
    def gpu_steps(self) -> tuple[str, ...]:
        return tuple(comma_items(self.settings.k8s_gpu_steps))

    def _node_selector(self) -> dict[str, str]:
        """``POLSEARCH_K8S_GPU_NODE_SELECTOR``: ``label=value[,label=value]``."""
        selector = {}
        for item in comma_items(self.settings.k8s_gpu_node_selector):
            label, _, value = item.partition("=")
            if not label or not value:
                raise ValueError(f"POLSEARCH_K8S_GPU_NODE_SELECTOR item {item!r} is not label=value")
            selector[label.strip()] = value.strip()
        return selector

    def gpu_pod_config(self) -> dict[str, Any]:
        memory = self.settings.k8s_gpu_memory  # NeMo + a 4-hour hearing's features
        container: dict[str, Any] = {
            "resources": {
                "requests": {"cpu": self.settings.k8s_gpu_cpu, "memory": memory},
                "limits": {"memory": memory, "nvidia.com/gpu": self.settings.k8s_gpus_per_step},
            }
        }
        if self.settings.k8s_gpu_image:
            # the NeMo image for GPU steps; the rest keep the lighter CPU image
            container["image"] = self.settings.k8s_gpu_image
        return {
            "container_config": container,
            "pod_spec_config": {
                "node_selector": self._node_selector(),
                "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
            },
        }

    def cpu_pod_config(self) -> dict[str, Any]:
        memory = self.settings.k8s_cpu_memory  # ffmpeg, VAD, the embedder
        return {
            "container_config": {
                "resources": {
                    "requests": {"cpu": self.settings.k8s_cpu, "memory": memory},
                    "limits": {"memory": memory},
                }
            }
        }

    def with_model_volume(self, config: dict[str, Any]) -> dict[str, Any]:
        """Mount the models volume (``POLSEARCH_K8S_MODELS_PVC``, read-only) at ``MODEL_CACHE_DIR``: the .nemo
        files for the GPU steps and the embedder's ONNX export for hearing_index."""
        claim = self.settings.k8s_models_pvc
        if not claim:
            return config
        mount = self.settings.model_cache_dir or "/models"
        config["container_config"]["volume_mounts"] = [
            {"name": "models", "mount_path": mount, "read_only": True}
        ]
        config.setdefault("pod_spec_config", {})["volumes"] = [
            {"name": "models", "persistent_volume_claim": {"claim_name": claim, "read_only": True}}
        ]
        return config

    def step_tags(self, step: str) -> dict[str, Any]:
        """The op tags of one asset step: its pod's config on Kubernetes, nothing elsewhere."""
        if not self.on_kubernetes:
            return {}
        config = self.gpu_pod_config() if step in self.gpu_steps else self.cpu_pod_config()
        return {K8S_CONFIG_TAG: self.with_model_volume(config)}

    def step_pool(self, step: str) -> str | None:
        """The concurrency pool of one asset step: ``gpu`` for the GPU steps on Kubernetes."""
        return GPU_POOL if self.on_kubernetes and step in self.gpu_steps else None
