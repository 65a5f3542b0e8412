"""What production storage costs: artifacts on S3 and the instance on Postgres, against the embedded default.

    .venv/bin/python bench/bench_storage.py                  # 4-hour WAV transfers, 3 sample-hearing runs each

1. Artifact transfer of one hearing's normalized audio (16 kHz mono s16 WAV, ``--hours`` long:
   the size of a long hearing) through each store, each in a fresh process: write (the asset's
   file handed to the store) then read back (the store hands a local file to the next step).

   * ``local``: LocalArtifactStore (write to a temporary file, fsync, rename);
   * ``s3``: S3ArtifactStore against moto's S3 server on 127.0.0.1 (boto3 multipart transfer in
     16 MiB parts, from and to a file);
   * ``s3-naive`` (baseline): the same bucket with ``put_object(Body=file.read_bytes())`` and
     ``get_object()['Body'].read()``, the obvious code that holds the whole file in memory.

   Memory is the process's peak RSS growth during the transfer (``ru_maxrss`` after the
   transfer minus before it, imports and client already loaded).

2. The bundled sample hearing through the whole asset graph (``materialize()`` of the 7 assets
   and their checks) in a fresh process per run, on the embedded storage (SQLite instance, local
   artifacts and LanceDB) and on the production storage (deploy/dagster.yaml on the machine's
   Postgres with a throwaway database, artifacts and LanceDB on the moto bucket). Same models,
   one warm-up run each; median of ``--runs``.

The S3 server runs on the same 2 cores as the client, so S3 throughput here is a floor, not
what a cloud bucket gives. Results go to bench/out/storage.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import OUT, SAMPLE, looped_sample, machine, peak_rss_mib  # noqa: E402
from polsearch_assets.local.instance import LOCAL_DAGSTER_YAML  # noqa: E402
from polsearch_assets_tests.fixtures.s3_server import (  # noqa: E402
    ACCESS_KEY_ID,
    REGION,
    SECRET_ACCESS_KEY,
    running_s3_server,
)

HEARING = "bench-storage-hearing"
S3_ENV = {
    "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
    "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
    "AWS_DEFAULT_REGION": REGION,
}


def transfer_child(mode: str, wav: Path, endpoint: str, bucket: str, root: Path) -> dict[str, float]:
    """One store's write + read of ``wav``, in this (fresh) process."""
    from polsearch_assets.defs.platform.artifacts import LocalArtifactStore
    from polsearch_assets.defs.platform.object_storage import S3ArtifactStore

    if mode == "local":
        store = LocalArtifactStore(root=str(root))
    else:
        store = S3ArtifactStore.from_settings(
            bucket=bucket, prefix="bench", endpoint_url=endpoint, region=REGION
        )
        client = store._s3()
        client.head_bucket(Bucket=bucket)  # client and connection pool built before the baseline
    before = peak_rss_mib()
    started = time.perf_counter()
    if mode == "s3-naive":
        client.put_object(Bucket=bucket, Key=f"naive/{HEARING}/raw_audio.wav", Body=wav.read_bytes())
    else:
        with store.writer(HEARING, "raw_audio.wav") as path:
            shutil.copyfile(wav, path)
    written = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        if mode == "s3-naive":
            body = client.get_object(Bucket=bucket, Key=f"naive/{HEARING}/raw_audio.wav")["Body"].read()
            (Path(tmp) / "raw_audio.wav").write_bytes(body)
            size = len(body)
        else:
            with store.reader(HEARING, "raw_audio.wav") as path:
                size = path.stat().st_size
    read = time.perf_counter()
    assert size == wav.stat().st_size
    return {
        "write_s": written - started,
        "read_s": read - written,
        "rss_growth_mib": peak_rss_mib() - before,
        "mib": size / 2**20,
    }


def pipeline_child() -> dict[str, float]:
    """The sample hearing through every asset, storage chosen by this process's environment."""
    import dagster as dg

    from polsearch_assets.config import Settings
    from polsearch_assets.defs.platform.storage import configured_artifact_store, configured_lance_index
    from polsearch_assets_tests.fixtures.hearing import hearing_resources, run_hearing

    settings = Settings.from_env()
    with tempfile.TemporaryDirectory() as tmp:
        resources = hearing_resources(Path(tmp)) | {
            "artifact_store": configured_artifact_store(settings),
            "lance_index": configured_lance_index(settings),
        }
        with dg.DagsterInstance.get() as instance:
            started = time.perf_counter()
            _, result = run_hearing(instance, resources, SAMPLE)
            elapsed = time.perf_counter() - started
            assert result.success
            storage = type(instance.run_storage).__name__
    return {"wall_s": elapsed, "run_storage": storage}


def in_child(args: list[str], env: dict[str, str]) -> dict:
    result = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-3000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


def pipeline_env(kind: str, root: Path, endpoint: str, bucket: str, database: str) -> dict[str, str]:
    home = root / f"dagster-{kind}-{uuid.uuid4().hex[:6]}"
    home.mkdir()
    if kind == "embedded":
        (home / "dagster.yaml").write_text(LOCAL_DAGSTER_YAML.read_text())
        return {
            "DAGSTER_HOME": str(home),
            "POLSEARCH_ARTIFACT_ROOT": str(root / "artifacts"),
            "POLSEARCH_LANCEDB_URI": str(root / "lancedb"),
        }
    from polsearch_assets_tests.fixtures.s3_server import S3Server
    from polsearch_assets_tests.integration.test_production_instance import production_env

    (home / "dagster.yaml").write_text((REPO / "deploy" / "dagster.yaml").read_text())
    env = production_env(database, S3Server(endpoint), bucket, home)
    env.pop("POLSEARCH_EXECUTOR")  # the k8s executor needs a cluster; the storage is what is measured
    return env | S3_ENV


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hours", type=float, default=4.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "transfer":
            mode, wav, endpoint, bucket, root = rest
            print(json.dumps(transfer_child(mode, Path(wav), endpoint, bucket, Path(root))))
        else:
            print(json.dumps(pipeline_child()))
        return

    import psycopg2

    from polsearch_assets_tests.integration.test_production_instance import PG

    report: dict = {
        "machine": machine(),
        "hours": args.hours,
        "runs": args.runs,
    }
    database = f"polsearch_bench_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(dbname="postgres", **PG)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{database}"')
    try:
        with running_s3_server() as s3, tempfile.TemporaryDirectory(prefix="polsearch-bench-") as tmp:
            root = Path(tmp)
            bucket = s3.new_bucket()
            wav = root / "hearing.wav"
            looped_sample(wav, args.hours * 3600)
            report["transfer"] = {}
            for mode in ("local", "s3", "s3-naive"):
                measured = in_child(
                    ["transfer", mode, str(wav), s3.endpoint, bucket, str(root / "store")], S3_ENV
                )
                report["transfer"][mode] = measured
                print(mode, json.dumps({k: round(v, 2) for k, v in measured.items()}), flush=True)
            wav.unlink()

            report["pipeline"] = {}
            for kind in ("embedded", "production"):
                env = pipeline_env(kind, root, s3.endpoint, bucket, database)
                in_child(["pipeline"], env)  # warm-up: page cache, LanceDB table creation
                runs = [in_child(["pipeline"], env) for _ in range(args.runs)]
                walls = [run["wall_s"] for run in runs]
                report["pipeline"][kind] = {
                    "median_s": statistics.median(walls),
                    "runs_s": walls,
                    "run_storage": runs[0]["run_storage"],
                }
                print(kind, json.dumps(report["pipeline"][kind]), flush=True)
    finally:
        with admin.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (database,)
            )
            cursor.execute(f'DROP DATABASE IF EXISTS "{database}"')
        admin.close()
    pipeline = report["pipeline"]
    report["pipeline_ratio"] = pipeline["production"]["median_s"] / pipeline["embedded"]["median_s"]
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "storage.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
