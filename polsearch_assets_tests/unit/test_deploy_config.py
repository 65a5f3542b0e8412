"""The deployment files in deploy/: images pinned and non-root, Helm values for the official chart,
the network kept private. These are what an operator applies; a typo here fails in the cluster."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from polsearch_assets.core.uploads.channels import load_watchlist
from polsearch_assets_tests.fixtures.processes import REPO

DEPLOY = REPO / "deploy"
DOCKERFILES = [DEPLOY / "docker" / "Dockerfile", DEPLOY / "docker" / "Dockerfile.gpu"]


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per instruction, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", path.read_text())
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, arguments = line.partition(" ")
            found.append((instruction.upper(), arguments.strip()))
    return found


def base_image(instructions: list[tuple[str, str]]) -> str:
    """The FROM image with ARG defaults substituted."""
    args = {}
    for instruction, arguments in instructions:
        if instruction == "ARG" and "=" in arguments:
            name, _, default = arguments.partition("=")
            args[name] = default
        if instruction == "FROM":
            return re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], arguments.split()[0])
    raise AssertionError("no FROM")


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_images_are_pinned_and_run_as_a_non_root_user(path: Path) -> None:
    instructions = dockerfile_instructions(path)
    image = base_image(instructions)
    name, _, tag = image.partition(":")
    assert name == "python" and re.fullmatch(r"3\.11\.\d+-slim-bookworm", tag), (
        image
    )  # an exact patch release
    users = [arguments for instruction, arguments in instructions if instruction == "USER"]
    assert users and users[-1].isdigit() and int(users[-1]) >= 1000  # numeric, so runAsNonRoot can verify it
    runs = " ".join(arguments for instruction, arguments in instructions if instruction == "RUN")
    assert "-c constraints.txt" in runs  # the same pins as development and CI
    assert "ffmpeg" in runs
    cmd = next(arguments for instruction, arguments in instructions if instruction == "CMD")
    assert '"polsearch_assets.definitions"' in cmd and '"grpc"' in cmd


def test_the_gpu_image_carries_nemo_and_the_cpu_image_does_not() -> None:
    cpu, gpu = (" ".join(a for i, a in dockerfile_instructions(p) if i == "RUN") for p in DOCKERFILES)
    assert "'.[deploy]'" in cpu and "download.pytorch.org/whl/cpu" in cpu
    assert "'.[deploy,gpu]'" in gpu
    gpu_env = " ".join(a for i, a in dockerfile_instructions(DOCKERFILES[1]) if i == "ENV")
    assert "MODEL_CACHE_DIR=/models" in gpu_env  # weights mounted there, never fetched at run time


def test_the_docker_context_leaves_out_local_state() -> None:
    ignored = (REPO / ".dockerignore").read_text().split()
    assert {".venv", ".polsearch", ".git"} <= set(ignored)


def _values(*names: str) -> dict[str, Any]:
    """Helm values files layered like `helm -f a -f b` (maps merge, lists replace)."""

    def merge(base: Any, override: Any) -> Any:
        if isinstance(base, dict) and isinstance(override, dict):
            return {k: merge(base[k], v) if k in base else v for k, v in override.items()} | {
                k: v for k, v in base.items() if k not in override
            }
        return override

    merged: dict[str, Any] = {}
    for name in names:
        merged = merge(merged, yaml.safe_load((DEPLOY / "helm" / name).read_text()))
    return merged


@pytest.mark.parametrize("files", [("values.yaml",), ("values.yaml", "values-production.yaml")])
def test_helm_values_for_the_official_chart(files: tuple[str, ...]) -> None:
    values = _values(*files)
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    assert {"name": "polsearch-secrets"} in launcher["envSecrets"]
    assert {"name": "polsearch-env"} in launcher["envConfigMaps"]
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    assert deployment["image"]["repository"].endswith("/polsearch/polsearch")
    assert deployment["image"]["tag"] not in ("", "latest")
    assert deployment["dagsterApiGrpcArgs"] == ["-m", "polsearch_assets.definitions"]
    assert deployment["podSecurityContext"]["runAsNonRoot"] is True
    assert deployment["podSecurityContext"]["runAsUser"] == 10001  # the images' USER
    assert deployment["includeConfigInLaunchedRuns"]["enabled"] is True
    assert values["dagsterWebserver"]["image"]["tag"] not in ("", "latest")
    assert values["dagsterWebserver"]["service"]["type"] == "ClusterIP"  # no public webserver
    assert values["postgresql"]["enabled"] is False  # external Postgres
    assert values["postgresql"]["postgresqlParams"]["sslmode"] == "require"
    assert values["generatePostgresqlPasswordSecret"] is False  # the password is a Secret, not a value
    assert values["computeLogManager"]["type"] == "S3ComputeLogManager"
    assert values["dagsterDaemon"]["runCoordinator"]["type"] == "QueuedRunCoordinator"


def test_the_cluster_runs_the_k8s_executor_on_s3() -> None:
    (config_map,) = yaml.safe_load_all((DEPLOY / "k8s" / "polsearch-env.yaml").read_text())
    env = config_map["data"]
    assert env["POLSEARCH_EXECUTOR"] == "k8s"
    assert env["POLSEARCH_ARTIFACT_ROOT"].startswith("s3://")
    assert env["POLSEARCH_LANCEDB_URI"].startswith("s3://")
    assert env["POLSEARCH_K8S_GPU_IMAGE"].split(":")[0].endswith("/polsearch/polsearch-gpu")
    assert not {k for k in env if re.search("SECRET|PASSWORD|ACCESS_KEY|TOKEN", k)}  # those go in Secrets


def test_the_network_policy_keeps_pods_off_the_internet() -> None:
    policies = {
        p["metadata"]["name"]: p
        for p in yaml.safe_load_all((DEPLOY / "k8s" / "networkpolicy.yaml").read_text())
    }
    assert all(p["kind"] == "NetworkPolicy" for p in policies.values())
    deny = policies["polsearch-default-deny-ingress"]["spec"]
    assert deny["podSelector"] == {} and deny["policyTypes"] == ["Ingress"]
    assert deny["ingress"] == [{"from": [{"podSelector": {}}]}]  # only from pods of the namespace
    proxy = policies["polsearch-webserver-from-proxy"]["spec"]
    assert proxy["podSelector"]["matchLabels"] == {"component": "dagster-webserver"}
    (rule,) = proxy["ingress"]
    assert all("ipBlock" not in peer for peer in rule["from"])
    assert rule["from"][0]["podSelector"]["matchLabels"] == {"polsearch/proxy": "true"}


@pytest.mark.parametrize("files", [("values.yaml",), ("values.yaml", "values-production.yaml")])
def test_the_code_server_mounts_the_watchlist_the_sensor_reads(files: tuple[str, ...]) -> None:
    (config_map,) = yaml.safe_load_all((DEPLOY / "k8s" / "polsearch-env.yaml").read_text())
    channels_file = Path(config_map["data"]["POLSEARCH_CHANNELS_FILE"])
    (watchlist,) = yaml.safe_load_all((DEPLOY / "k8s" / "polsearch-watchlist.yaml").read_text())
    (deployment,) = _values(*files)["dagster-user-deployments"]["deployments"]
    (mount,) = [m for m in deployment["volumeMounts"] if Path(m["mountPath"]) == channels_file.parent]
    (volume,) = [v for v in deployment["volumes"] if v["name"] == mount["name"]]
    assert volume["configMap"]["name"] == watchlist["metadata"]["name"]
    assert channels_file.name in watchlist["data"]


def test_the_example_watchlist_is_valid(tmp_path: Path) -> None:
    (watchlist,) = yaml.safe_load_all((DEPLOY / "k8s" / "polsearch-watchlist.yaml").read_text())
    path = tmp_path / "channels.yaml"
    path.write_text(watchlist["data"]["channels.yaml"])
    assert [channel.name for channel in load_watchlist(str(path), None)] == ["house-judiciary"]
