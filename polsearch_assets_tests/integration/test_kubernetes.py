"""Step placement on Kubernetes: the Jobs dagster-k8s builds from the assets' own tags.

The tags are computed when the code location is built (from POLSEARCH_EXECUTOR and POLSEARCH_K8S_*),
so each configuration builds its own location, as a pod would load it; the Job is then built here
with dagster-k8s's own construction, the same code the k8s_job_executor runs.
"""

from __future__ import annotations

from typing import Any

import pytest

from polsearch_assets.config import Settings
from polsearch_assets.core.contracts import HEARING_ASSETS
from polsearch_assets.definitions import build_definitions


def describe(**env: str) -> dict[str, Any]:
    """The hearing assets' op tags and pools, and the job's executor, as a code location with ``env`` builds them."""
    location = build_definitions(Settings.from_env(env))
    steps = {}
    for name in HEARING_ASSETS:
        node = location.resolve_assets_def(name).node_def
        steps[node.name] = {"tags": dict(node.tags), "pool": node.pool}
    return {"steps": steps, "executor": location.resolve_job_def("hearing_pipeline").executor_def.name}


def build_step_job(tags: dict[str, Any], step: str) -> dict[str, Any]:
    """The Kubernetes Job for one step, built by dagster-k8s from its tags, as a plain manifest dict."""
    import kubernetes
    from dagster_k8s.job import DagsterK8sJobConfig, construct_dagster_k8s_job, get_user_defined_k8s_config

    job_config = DagsterK8sJobConfig(
        job_image="registry.example.com/polsearch/polsearch:0.1.0",
        dagster_home="/opt/dagster/dagster_home",
        instance_config_map="polsearch-dagster-instance",
        env_config_maps=["polsearch-env"],
        env_secrets=["polsearch-secrets"],
    )
    job = construct_dagster_k8s_job(
        job_config=job_config,
        args=["dagster", "api", "execute_step"],
        job_name=f"dagster-step-{step.replace('_', '-')}",
        user_defined_k8s_config=get_user_defined_k8s_config(tags),
        pod_name=f"dagster-step-{step.replace('_', '-')}",
        component="step_worker",
    )
    return kubernetes.client.ApiClient().sanitize_for_serialization(job)


@pytest.fixture(scope="module")
def on_k8s() -> dict[str, Any]:
    return describe(POLSEARCH_EXECUTOR="k8s")


@pytest.mark.parametrize("step", ["transcript", "diarization"])
def test_gpu_steps_get_a_gpu_pod(on_k8s: dict[str, Any], step: str) -> None:
    described = on_k8s["steps"][step]
    assert described["pool"] == "gpu"
    manifest = build_step_job(described["tags"], step)
    pod = manifest["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert (
        container["resources"]["requests"]["memory"] == container["resources"]["limits"]["memory"] == "24Gi"
    )
    assert pod["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    # what every step pod needs besides: the instance, the secrets and the ConfigMap
    assert {"configMapRef": {"name": "polsearch-env"}} in container["envFrom"]
    assert {"secretRef": {"name": "polsearch-secrets"}} in container["envFrom"]
    assert manifest["metadata"]["labels"]["app.kubernetes.io/component"] == "step_worker"


@pytest.mark.parametrize(
    "step", ["raw_audio", "vad_chunks", "aligned_segments", "hearing_index", "word_archive"]
)
def test_cpu_steps_get_no_gpu(on_k8s: dict[str, Any], step: str) -> None:
    described = on_k8s["steps"][step]
    assert described["pool"] is None
    pod = build_step_job(described["tags"], step)["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert "nvidia.com/gpu" not in container["resources"].get("limits", {})
    assert container["resources"]["requests"] == {"cpu": "1", "memory": "3Gi"}
    assert not pod.get("tolerations") and not pod.get("nodeSelector")
    assert container["image"] == "registry.example.com/polsearch/polsearch:0.1.0"


def test_the_k8s_executor_runs_every_step_in_its_own_pod(on_k8s: dict[str, Any]) -> None:
    assert on_k8s["executor"] == "k8s_job_executor"


def test_gpu_placement_follows_the_environment() -> None:
    described = describe(
        POLSEARCH_EXECUTOR="k8s",
        POLSEARCH_K8S_GPU_IMAGE="registry.example.com/polsearch/polsearch-gpu:0.1.0",
        POLSEARCH_K8S_GPU_NODE_SELECTOR="doks.digitalocean.com/gpu-brand=nvidia",
        POLSEARCH_K8S_GPU_MEMORY="40Gi",
        POLSEARCH_K8S_GPUS_PER_STEP="2",
    )
    pod = build_step_job(described["steps"]["transcript"]["tags"], "transcript")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == "registry.example.com/polsearch/polsearch-gpu:0.1.0"
    assert container["resources"]["limits"] == {"memory": "40Gi", "nvidia.com/gpu": "2"}
    assert pod["nodeSelector"] == {"doks.digitalocean.com/gpu-brand": "nvidia"}


def test_the_embedded_profile_has_no_pod_settings() -> None:
    described = describe()
    assert described["executor"] == "in_process"
    for step in described["steps"].values():
        assert step["pool"] is None
        assert not any(tag.startswith("dagster-k8s/") for tag in step["tags"])


def test_model_steps_mount_the_models_volume() -> None:
    described = describe(
        POLSEARCH_EXECUTOR="k8s", POLSEARCH_K8S_MODELS_PVC="polsearch-models", MODEL_CACHE_DIR="/models"
    )
    for step in ("transcript", "diarization", "hearing_index"):
        pod = build_step_job(described["steps"][step]["tags"], step)["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert {"name": "models", "mountPath": "/models", "readOnly": True} in container["volumeMounts"]
        assert {
            "name": "models",
            "persistentVolumeClaim": {"claimName": "polsearch-models", "readOnly": True},
        } in pod["volumes"]
