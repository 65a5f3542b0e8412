"""An archive of N hearings: what automation, the API and the CLI cost as the archive grows.

    .venv/bin/python bench/bench_archive.py                                  # 1k, 10k, 30k on SQLite and Postgres
    .venv/bin/python bench/bench_archive.py --sizes 1000 --storages sqlite   # one point
    .venv/bin/python bench/bench_archive.py --only ticks                     # skip the webserver and CLI part
    git archive BASE | tar -x -C /tmp/base && ln -s $PWD/.venv /tmp/base/.venv  # a baseline, same run:
    .venv/bin/python bench/bench_archive.py --variants before=/tmp/base,after=$PWD

Each archive is a Dagster instance of N hearings (dynamic partitions of ``hearings``) whose records are
made through Dagster's public API, not by running audio: ``add_dynamic_partitions``, then
``report_runless_asset_event`` with the materializations a real run records (code version, data version,
and per input its data version and event pointer, so staleness is computed as for real runs) and the asset
check evaluations pointing at them. 90 % of the hearings are fully materialized with every check passed; 5 %
stopped at a failed blocking check (``transcript``'s contract); 5 % have only ``raw_audio``; and 5 % (of the
complete ones) had their ``transcript`` re-materialized with new data after ``aligned_segments`` read it, so
their ``aligned_segments`` is stale. Each hearing also has its catalog entry (``catalog.json``) in the
archive's artifact root.

Instances are built once and kept (``bench/out/archive/<storage>-<N>/``; the Postgres ones in databases
``polsearch_bench_archive_<N>`` on 127.0.0.1:5432): ``--rebuild`` builds them again. SQLite archives are
filled on /dev/shm (no fsync per event) and copied to disk; Postgres ones with ``synchronous_commit=off``
on their own database. Neither changes what is measured.

Measured, each in a fresh process:

* ``ticks``: the automation sensor's evaluation as the daemon runs it (``dg.evaluate_automation_conditions``
  over the project's definitions, with the previous tick's cursor): the first tick (no cursor), a tick
  with nothing changed, and a tick after one hearing's ``raw_audio`` was re-materialized (which must
  request that hearing's ``vad_chunks`` and nothing else). CPU seconds of the process and wall seconds
  (Postgres does part of the work in its own processes: wall counts it).
* ``api``: ``polsearch hearings --json`` (local, on the instance), then a ``dagster-webserver`` on the archive
  and ``polsearch backfill --stale/--missing/--all --dry-run`` and ``polsearch status KEY`` over GraphQL, then
  a webserver whose ``transcript`` code version changed (``CODE_CHANGE``: every transcribed hearing stale)
  and ``backfill --stale --dry-run`` again. Each command in its own process, as a user runs it: wall
  seconds, its CPU seconds and the webserver's CPU seconds while it ran.

Results go to bench/out/archive.json (merged with earlier results per storage and size).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import OUT, cpu_s, machine  # noqa: E402

BIN = Path(sys.executable).parent
CACHE = OUT / "archive"
RESULTS = OUT / "archive.json"
PG = {"hostname": "127.0.0.1", "port": 5432, "username": "postgres", "password": ""}
BUILT = "built.json"


def key_of(i: int) -> str:
    return f"bench-{i:06d}"


def db_name(n: int) -> str:
    return f"polsearch_bench_archive_{n}"


def instance_yaml(storage: str, n: int) -> str:
    """The local instance's dagster.yaml, with Postgres storage for ``postgres`` (as deploy/dagster.yaml has)."""
    from polsearch_assets.local.instance import LOCAL_DAGSTER_YAML

    text = LOCAL_DAGSTER_YAML.read_text()
    if storage == "postgres":
        text += f"""
storage:
  postgres:
    postgres_db:
      hostname: {PG["hostname"]}
      port: {PG["port"]}
      username: {PG["username"]}
      password: "{PG["password"]}"
      db_name: {db_name(n)}
      scheme: postgresql+psycopg2
"""
    return text


def psql(sql: str, db: str = "postgres") -> str:
    return subprocess.run(
        ["psql", "-h", PG["hostname"], "-U", PG["username"], "-d", db, "-tAc", sql],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def archive_env(home: Path, code: Path = REPO) -> dict[str, str]:
    """The environment of every process that works on the archive at ``home`` with the project at ``code``."""
    return {
        **os.environ,
        "DAGSTER_HOME": str(home / "dagster"),
        "POLSEARCH_HOME": str(home / "polsearch"),
        "PYTHONPATH": str(code),
    }


# -- building an archive


TEMPLATES = 20  # hearings recorded event by event; the others are copies of them (see replicate)
# An input event pointer in an event's JSON: the copy's point to the copy's own events.
POINTER = re.compile(r'("dagster/input_event_pointer/[^"]+": ")(\d+)"')
STALE_TEMPLATE = 1  # its copies (5 %) have a transcript re-materialized after the assets that read it


def stopped_after(i: int) -> str | None:
    """The last asset of hearing ``i``, None when it is complete: 5 % stopped at ``transcript``'s failed
    blocking check, 5 % have only ``raw_audio``."""
    if i % 10:
        return None
    return "transcript" if i % 20 == 0 else "raw_audio"


def fill(n: int) -> dict[str, Any]:
    """Register ``n`` hearings and record their materializations and checks in DAGSTER_HOME's instance.

    The first ``TEMPLATES`` hearings are recorded through ``report_runless_asset_event``, one event at a
    time (about 10 ms of CPU an event: 500k events for 30k hearings would take hours); the rest are
    copies of them made in one transaction per 1,000 hearings (``replicate``).
    """
    import dagster as dg

    from polsearch_assets.core.catalog import HearingCatalog, HearingEntry
    from polsearch_assets.definitions import defs
    from polsearch_assets.defs.hearing.partitions import hearings_partitions

    started = time.monotonic()
    instance = dg.DagsterInstance.get()
    keys = [key_of(i) for i in range(n)]
    for start in range(0, n, 5000):
        instance.add_dynamic_partitions(hearings_partitions.name, keys[start : start + 5000])
    catalog = HearingCatalog(defs.resources["artifact_store"])
    for i, key in enumerate(keys):
        url = f"https://www.youtube.com/watch?v=bench{i:06d}"
        catalog.put(
            HearingEntry(
                key=key,
                source=url,
                source_kind="youtube",
                location=url,
                title=f"Hearing {i}: oversight of the archive",
                channel="House Committee on Benchmarks",
                published_date=f"20{16 + i % 10}-0{1 + i % 9}-1{i % 10}",
                committee="House Committee on Benchmarks",
                registered_at="2026-11-01T00:00:00+00:00",
            )
        )
    record_templates(instance, defs, keys[: min(n, TEMPLATES)])
    templates_s = time.monotonic() - started
    events = replicate(instance, n)
    warm_status_cache(instance, defs)
    return {"hearings": n, "events": events, "templates_s": round(templates_s, 1),
            "fill_s": round(time.monotonic() - started, 1)}  # fmt: skip


def record_templates(instance: Any, defs: Any, keys: list[str]) -> None:
    """What runs would have recorded for these hearings, through Dagster's public API: each materialization
    with the provenance a run writes (code version, data version, and per input its data version and event
    pointer), then its checks. Hearing ``STALE_TEMPLATE``'s ``transcript`` is then re-materialized with new
    data (a re-run that changed the words), so its ``aligned_segments`` is stale as Dagster defines it."""
    import dagster as dg

    from polsearch_assets_tests.fixtures.archive import record_as_run

    graph = defs.resolve_asset_graph()
    order = [k for k in graph.toposorted_asset_keys if graph.get(k).partitions_def is not None]
    library = dg.AssetKey("voiceprint_library")
    instance.report_runless_asset_event(
        dg.AssetMaterialization(library, tags={"dagster/data_version": "library-1"})
    )
    library_id = instance.fetch_materializations(library, limit=1).records[0].storage_id
    marked = {"bench": True}

    for i, key in enumerate(keys):
        last = stopped_after(i)
        read = {library: ("library-1", library_id)}
        for asset in order:
            name = asset.to_user_string()
            if last == "raw_audio" and name != "raw_audio":
                break
            if last == "transcript" and name not in ("raw_audio", "vad_chunks", "transcript"):
                continue
            version = hashlib.sha1(f"{name}/{key}".encode()).hexdigest()[:16]
            stored = record_as_run(
                instance, graph, asset, key, data_version=version, read=read, metadata=marked,
                failed_contract=last == "transcript" and name == "transcript",
            )  # fmt: skip
            read[asset] = (version, stored)
        if i == STALE_TEMPLATE:
            # Without its checks: Dagster keeps one runless evaluation per check and hearing.
            record_as_run(
                instance, graph, dg.AssetKey("transcript"), key, data_version=f"rerun-{key}", read=read,
                checks=False, metadata=marked,
            )  # fmt: skip


def replicate(instance: Any, n: int) -> int:
    """Hearing i >= TEMPLATES gets a copy of template i % TEMPLATES's rows (event log, event tags, check
    executions) with its own key and storage ids, in the order the template's were written; the rows
    Dagster reads for assets and checks are exactly those a recorded event writes. Returns the events."""
    import sqlalchemy as sa
    from dagster._core.storage.event_log.schema import (
        AssetCheckExecutionsTable,
        AssetEventTagsTable,
        AssetKeyTable,
        SqlEventLogStorageTable,
    )

    storage = instance.event_log_storage
    templates = [key_of(i) for i in range(min(n, TEMPLATES))]
    with storage.index_connection() as conn:
        checks = (
            conn.execute(
                sa.select(AssetCheckExecutionsTable)
                .where(AssetCheckExecutionsTable.c.partition.in_(templates))
                .order_by(AssetCheckExecutionsTable.c.id)
            )
            .mappings()
            .all()
        )
        # A check evaluation's event row has no partition: it is found through its execution row.
        check_partition = {c["evaluation_event_storage_id"]: c["partition"] for c in checks}
        events = (
            conn.execute(
                sa.select(SqlEventLogStorageTable)
                .where(
                    SqlEventLogStorageTable.c.partition.in_(templates)
                    | SqlEventLogStorageTable.c.id.in_(list(check_partition))
                )
                .order_by(SqlEventLogStorageTable.c.id)
            )
            .mappings()
            .all()
        )
        tags = (
            conn.execute(
                sa.select(AssetEventTagsTable).where(
                    AssetEventTagsTable.c.event_id.in_([e["id"] for e in events])
                )
            )
            .mappings()
            .all()
        )
        next_event = conn.execute(sa.select(sa.func.max(SqlEventLogStorageTable.c.id))).scalar() + 1
        next_tag = (conn.execute(sa.select(sa.func.max(AssetEventTagsTable.c.id))).scalar() or 0) + 1
        next_check = (conn.execute(sa.select(sa.func.max(AssetCheckExecutionsTable.c.id))).scalar() or 0) + 1
    by_template: dict[str, list[Any]] = {t: [] for t in templates}
    for event in events:
        by_template[event["partition"] or check_partition[event["id"]]].append(event)
    tags_by_event: dict[int, list[Any]] = {}
    for tag in tags:
        tags_by_event.setdefault(tag["event_id"], []).append(tag)
    checks_by_template = {t: [c for c in checks if c["partition"] == t] for t in templates}

    written = len(events)
    for batch in range(TEMPLATES, n, 1000):
        event_rows, tag_rows, check_rows = [], [], []
        for i in range(batch, min(n, batch + 1000)):
            # Each copy as if recorded by its own run: Dagster keeps one runless check evaluation per
            # check and partition, so the tick's re-materialization (runless) needs a hearing not run so.
            template, key, run_id = key_of(i % TEMPLATES), key_of(i), f"{key_of(i)}-run"

            new_ids: dict[int, int] = {}  # the template's storage ids -> the copy's (pointers follow)

            def moved(text: str, template: str = template, key: str = key, run_id: str = run_id,
                      new_ids: dict[int, int] = new_ids) -> str:  # fmt: skip
                text = POINTER.sub(lambda m: f'{m[1]}{new_ids.get(int(m[2]), int(m[2]))}"', text)
                return text.replace(f'"{template}"', f'"{key}"').replace(
                    '"run_id": ""', f'"run_id": "{run_id}"'
                )

            for event in by_template[template]:
                new_ids[event["id"]] = next_event
                event_rows.append({**event, "id": next_event, "partition": key if event["partition"] else None,
                                   "run_id": run_id, "event": moved(event["event"])})  # fmt: skip
                for tag in tags_by_event.get(event["id"], []):
                    tag_rows.append({**tag, "id": next_tag, "event_id": next_event})
                    next_tag += 1
                next_event += 1
            for row in checks_by_template[template]:
                evaluation = json.loads(moved(row["evaluation_event"]))
                target = evaluation["dagster_event"]["event_specific_data"]["target_materialization_data"]
                target["storage_id"] = new_ids[target["storage_id"]]
                check_rows.append({**row, "id": next_check, "partition": key, "run_id": run_id,
                                   "evaluation_event": json.dumps(evaluation),
                                   "evaluation_event_storage_id": new_ids[row["evaluation_event_storage_id"]],
                                   "materialization_event_storage_id": new_ids.get(row["materialization_event_storage_id"])})  # fmt: skip
                next_check += 1
        with storage.index_transaction() as conn:
            conn.execute(SqlEventLogStorageTable.insert(), event_rows)
            if tag_rows:
                conn.execute(AssetEventTagsTable.insert(), tag_rows)
            conn.execute(AssetCheckExecutionsTable.insert(), check_rows)
        written += len(event_rows)
    with storage.index_transaction() as conn:
        if conn.dialect.name == "postgresql":  # explicit ids: move the sequences past them
            for table in ("event_logs", "asset_event_tags", "asset_check_executions"):
                conn.execute(
                    sa.text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                    )
                )
        conn.execute(AssetKeyTable.update().values(cached_status_data=None))  # rebuilt from the events
    return written


def warm_status_cache(instance: Any, defs: Any) -> None:
    """Build each asset's partition status cache, as the webserver or daemon would on its first read."""
    from dagster._core.storage.partition_status_cache import get_and_update_asset_status_cache_value

    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if node.partitions_def is not None:
            get_and_update_asset_status_cache_value(instance, key, node.partitions_def)


def build(storage: str, n: int, rebuild: bool) -> Path:
    """The archive of ``n`` hearings on ``storage``, built now unless a finished one is kept."""
    home = CACHE / f"{storage}-{n}"
    kept = (home / BUILT).exists() and not rebuild
    if kept and (
        storage != "postgres" or psql(f"SELECT 1 FROM pg_database WHERE datname = '{db_name(n)}'") == "1"
    ):
        return home
    shutil.rmtree(home, ignore_errors=True)
    # SQLite: filled on /dev/shm (every event is a commit; an fsync each would take an hour at 30k).
    work = Path(tempfile.mkdtemp(prefix=f"archive-{n}-", dir="/dev/shm")) if storage == "sqlite" else home
    (work / "dagster").mkdir(parents=True)
    (work / "dagster" / "dagster.yaml").write_text(instance_yaml(storage, n))
    if storage == "postgres":
        psql(f"DROP DATABASE IF EXISTS {db_name(n)}")
        psql(f"CREATE DATABASE {db_name(n)}")
        psql(f"ALTER DATABASE {db_name(n)} SET synchronous_commit = off")
    print(f"building {storage}-{n} in {work}", file=sys.stderr, flush=True)
    stats = run_json(["_fill", str(n)], archive_env(work))
    if storage == "sqlite":
        shutil.copytree(work, home)
        shutil.rmtree(work)
    else:
        psql(f"ALTER DATABASE {db_name(n)} RESET synchronous_commit")
        psql("VACUUM ANALYZE", db_name(n))
    (home / BUILT).write_text(json.dumps(stats))
    print(f"built {storage}-{n}: {stats}", file=sys.stderr, flush=True)
    return home


def run_json(args: list[str], env: dict[str, str], timeout_s: float = 3600) -> Any:
    """This script's subcommand ``args`` in a fresh interpreter, from the project tree on PYTHONPATH (so a
    variant measures its own code); its last stdout line as JSON, or the reason it has none."""
    script = Path(env["PYTHONPATH"]) / "bench" / "bench_archive.py"
    try:
        result = subprocess.run(
            [sys.executable, str(script), *args],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"still running after {timeout_s:g} s (stopped)"}
    if result.returncode:
        raise RuntimeError(f"{args} failed:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# -- measuring


def ticks(n: int, changed: int) -> dict[str, Any]:
    """The automation sensor's evaluations: first (no cursor), nothing changed, one hearing changed."""
    import dagster as dg
    from dagster._core.definitions.asset_checks.asset_check_evaluation import (
        AssetCheckEvaluationTargetMaterializationData,
    )
    from dagster._core.definitions.asset_daemon_cursor import AssetDaemonCursor
    from dagster._core.definitions.automation_tick_evaluation_context import AutomationTickEvaluationContext
    from dagster._core.definitions.partitions.context import partition_loading_context
    from dagster._core.instance.types import CachingDynamicPartitionsLoader
    from dagster_shared.serdes import serialize_value

    from polsearch_assets.definitions import defs

    instance = dg.DagsterInstance.get()
    graph = defs.resolve_asset_graph()
    sensor = defs.get_sensor_def("hearing_automation")
    result: dict[str, Any] = {}
    cursor, cursor_text, evaluation_id = AssetDaemonCursor.empty(), None, 0
    in_code_server = sensor._use_user_code_server  # which of Dagster's two paths runs it
    result["evaluated_in"] = "code location (sensor daemon)" if in_code_server else "asset daemon"

    def tick(name: str) -> list[dg.RunRequest]:
        """One evaluation of the sensor as Dagster makes it, then its changed evaluations stored.

        A sensor with ``use_user_code_server`` is evaluated by the code location like any sensor
        (``evaluate_tick``, what the sensor daemon asks it over gRPC); otherwise the asset daemon builds
        the tick context itself (dagster/_daemon/asset_daemon.py).
        """
        nonlocal cursor, cursor_text, evaluation_id
        cpu, wall = cpu_s(), time.perf_counter()
        evaluation_id += 1
        if in_code_server:
            data = sensor.evaluate_tick(
                dg.build_sensor_context(instance=instance, cursor=cursor_text, definitions=defs)
            )
            run_requests, cursor_text = list(data.run_requests or []), data.cursor
            evaluations = data.automation_condition_evaluations
        else:
            context = AutomationTickEvaluationContext(
                evaluation_id=evaluation_id,
                instance=instance,
                asset_graph=graph,
                cursor=cursor,
                materialize_run_tags=dict(sensor.run_tags or {}),
                observe_run_tags={},
                auto_observe_asset_keys=set(),
                asset_selection=sensor.asset_selection,
                logger=logging.getLogger("bench_archive"),
                emit_backfills=True,
            )
            run_requests, cursor, evaluations = context.evaluate()
            serialize_value(cursor)
        with partition_loading_context(datetime.now(UTC), CachingDynamicPartitionsLoader(instance)):
            instance.schedule_storage.add_auto_materialize_asset_evaluations(
                evaluation_id, [e.with_run_ids(set()) for e in evaluations]
            )
        result[name] = {"cpu_s": round(cpu_s() - cpu, 3), "wall_s": round(time.perf_counter() - wall, 3)}
        return run_requests

    tick("first")
    result["no_change"]["requested"] = len(tick("no_change"))
    # What a re-run of raw_audio records: its materialization and its (passed) contract check.
    key, raw_audio = key_of(changed), dg.AssetKey("raw_audio")
    code_version = graph.get(raw_audio).code_version
    instance.report_runless_asset_event(
        dg.AssetMaterialization(raw_audio, partition=key, tags={"dagster/code_version": code_version})
    )
    record = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=raw_audio, asset_partitions=[key]), limit=1
    ).records[0]
    instance.report_runless_asset_event(
        dg.AssetCheckEvaluation(
            asset_key=raw_audio,
            check_name="contract",
            passed=True,
            partition=key,
            blocking=True,
            target_materialization_data=AssetCheckEvaluationTargetMaterializationData(
                storage_id=record.storage_id, run_id=record.run_id, timestamp=record.timestamp
            ),
        )
    )
    requests = tick("one_changed")
    result["one_changed"]["requested"] = [_describe(r) for r in requests]
    return result


def _describe(request: Any) -> str:
    """A run request as ``asset[partition]`` items (a backfill request lists its subset)."""
    if request.asset_graph_subset is not None:
        return ", ".join(
            f"{key.to_user_string()}[{','.join(sorted(request.asset_graph_subset.partitions_subsets_by_asset_key[key].get_partition_keys()))}]"
            for key in sorted(request.asset_graph_subset.asset_keys)
        )
    return f"{','.join(sorted(k.to_user_string() for k in request.asset_selection or []))}[{request.partition_key}]"


@contextmanager
def webserver(home: Path, code: Path, env: dict[str, str]) -> Iterator[tuple[str, int]]:
    """A ``dagster-webserver`` on the archive; its URL and the pid of the process that answers GraphQL (its
    code server is its child: ``code_servers``)."""
    from polsearch_assets_tests.fixtures.processes import dagster_dev

    with dagster_dev(home / "dagster", env, daemon=False, cwd=code, timeout_s=300) as url:
        port = url.rsplit(":", 1)[1]
        pid = next(
            int(proc.name)
            for proc in Path("/proc").iterdir()
            if proc.name.isdigit()
            and (cmdline := _read(proc / "cmdline").split("\0"))
            and any(part.endswith("dagster-webserver") for part in cmdline)
            and port in cmdline
        )
        yield url, pid


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:  # a process that ended meanwhile
        return ""


def code_servers(pid: int) -> list[int]:
    """The child processes of ``pid`` (a webserver's code server)."""
    return [
        int(proc.name)
        for proc in Path("/proc").iterdir()
        if proc.name.isdigit()
        and (stat := _read(proc / "stat"))
        and int(stat.rsplit(")", 1)[1].split()[1]) == pid
    ]


def forget_provenance_cache(home: Path, storage: str, n: int) -> None:
    """Empty the ``stale_hearings`` sensor's cache (key-value rows ``polsearch/provenance/*``) so the next
    ``backfill --stale`` starts cold; a variant without the sensor has none."""
    sql = "DELETE FROM kvs WHERE key LIKE 'polsearch/provenance/%'"
    if storage == "postgres":
        psql(sql, db_name(n))
        return
    import sqlite3

    with sqlite3.connect(home / "dagster" / "history" / "runs.db") as db:
        db.execute(sql)


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a running process (/proc/PID/stat)."""
    fields = _read(Path(f"/proc/{pid}/stat")).rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed_cli(
    env: dict[str, str], code: Path, *args: str, timeout_s: float = 300, server: int | None = None
) -> dict[str, Any]:
    """Wall and CPU seconds of one ``polsearch`` command in its own process (and of the webserver
    ``server`` while it ran), its exit code and output size."""
    started, children = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    helpers = code_servers(server) if server else []
    served = process_cpu_s(server) if server else 0.0
    coded = sum(process_cpu_s(p) for p in helpers)
    try:
        result = subprocess.run(
            [str(BIN / "polsearch"), *args],
            env=env,
            cwd=code,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:  # killed and reaped: its CPU so far still counts
        result = None
    took, now = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_CHILDREN)
    out: dict[str, Any] = {
        "cpu_s": round(now.ru_utime + now.ru_stime - children.ru_utime - children.ru_stime, 2)
    }
    if server:
        out["server_cpu_s"] = round(process_cpu_s(server) - served, 2)
        out["code_server_cpu_s"] = round(sum(process_cpu_s(p) for p in helpers) - coded, 2)
    if result is None:
        return {**out, "wall_s": None, "rc": None, "error": f"still running after {timeout_s:g} s (stopped)"}
    out |= {"wall_s": round(took, 2), "rc": result.returncode, "lines": len(result.stdout.splitlines())}
    if result.returncode:
        out["error"] = result.stderr.strip()[-500:]
    return out


# A model change: transcript's code version names its model, so every transcribed hearing is stale after it
# (the webserver only reads the setting; no model is loaded).
CODE_CHANGE = {"POLSEARCH_WHISPER_MODEL": "/models/tiny.en-v2"}


def api(home: Path, n: int, code: Path, timeout_s: float, storage: str) -> dict[str, Any]:
    """The API commands on the archive as built (5 % stale), then ``--stale`` after a code change (about
    95 % stale); ``--stale`` cold (the provenance cache emptied first) and then warm."""
    env = archive_env(home, code)
    result: dict[str, Any] = {
        "hearings_json": timed_cli(env, code, "hearings", "--json", timeout_s=timeout_s)
    }
    key = key_of(n // 2 + STALE_TEMPLATE)  # a stale hearing
    stale = ("backfill", "--stale", "--dry-run", "--url")
    with webserver(home, code, env) as (url, pid):
        forget_provenance_cache(home, storage, n)
        result["backfill_stale_dry_run"] = timed_cli(env, code, *stale, url, timeout_s=timeout_s, server=pid)
        result["backfill_stale_dry_run_warm"] = timed_cli(
            env, code, *stale, url, timeout_s=timeout_s, server=pid
        )
        for mode in ("missing", "all"):
            result[f"backfill_{mode}_dry_run"] = timed_cli(
                env, code, "backfill", f"--{mode}", "--dry-run", "--url", url, timeout_s=timeout_s, server=pid
            )
        result["status"] = timed_cli(env, code, "status", key, "--url", url, timeout_s=timeout_s, server=pid)
    changed = {**env, **CODE_CHANGE}
    with webserver(home, code, changed) as (url, pid):
        forget_provenance_cache(home, storage, n)
        result["code_change_stale_dry_run"] = timed_cli(
            changed, code, *stale, url, timeout_s=timeout_s, server=pid
        )
        result["code_change_stale_dry_run_warm"] = timed_cli(
            changed, code, *stale, url, timeout_s=timeout_s, server=pid
        )
    return result


def table(paths: list[Path]) -> str:
    """The results as Markdown rows: one per storage, size and variant."""

    def tick(entry: dict[str, Any], name: str) -> str:
        ticks = entry.get("ticks")
        if not ticks:
            return "-"
        if "error" in ticks:
            return "> 600 s (stopped)" if name == "one_changed" else "-"
        found = ticks[name]
        return f"{found['cpu_s']:.2f} / {found['wall_s']:.1f}"

    def command(entry: dict[str, Any], name: str) -> str:
        """wall s (client CPU s + webserver CPU s), or how it ended."""
        found = entry.get("api", {}).get(name)
        if not found:
            return "-"
        cpu = [f"{found[c]:.1f}" for c in ("cpu_s", "server_cpu_s", "code_server_cpu_s") if c in found]
        if found["wall_s"] is None:
            return (
                "> "
                + found["error"].removeprefix("still running after ")
                + (f" ({' + '.join(cpu)} so far)" if cpu else "")
            )
        if found.get("rc"):
            return f"error after {found['wall_s']:.0f} s"
        return f"{found['wall_s']:.1f}" + (f" ({' + '.join(cpu)})" if cpu else "")

    entries = [
        (label, storage, n, entry)
        for path in paths
        for label, storages in json.loads(path.read_text()).items()
        for storage, sizes in storages.items()
        for n, entry in sizes.items()
    ]
    with_ticks = any("ticks" in entry for *_, entry in entries)  # else the API's columns only
    rows = []
    for label, storage, n, entry in entries:
        loads = [
            entry[m].rsplit("load ", 1)[-1] for m in ("machine_at_start", "machine_at_end") if m in entry
        ]
        cells = [storage, f"{int(n):,}", label, " / ".join(loads)]
        cells += [tick(entry, t) for t in ("no_change", "one_changed") if with_ticks]
        cells += [command(entry, c) for c in ("backfill_stale_dry_run", "backfill_stale_dry_run_warm",
                                              "code_change_stale_dry_run", "code_change_stale_dry_run_warm",
                                              "backfill_missing_dry_run", "backfill_all_dry_run",
                                              "hearings_json", "status")]  # fmt: skip
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(sorted(rows, key=lambda r: (r.split("|")[1], int(r.split("|")[2].replace(",", "")))))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1000,10000,30000")
    parser.add_argument("--storages", default="sqlite,postgres")
    parser.add_argument("--only", choices=["ticks", "api"], help="Measure only this part.")
    parser.add_argument("--rebuild", action="store_true", help="Build the archives again.")
    parser.add_argument(
        "--variants",
        default=f"current={REPO}",
        help="LABEL=PROJECT_DIR,...: measure each archive with each of these project trees in turn (e.g. an "
        "export of the previous commit as the baseline, in the same run).",
    )
    parser.add_argument("--timeout", type=float, default=900, help="Seconds one measurement may take.")
    parser.add_argument(
        "--results", type=Path, default=RESULTS, help="JSON file the results are merged into."
    )
    parser.add_argument(
        "--table", nargs="+", type=Path, help="Print result files as Markdown rows; measure nothing."
    )
    args = parser.parse_args()
    if args.table:
        print(table(args.table))
        return

    variants = [(label, Path(path)) for label, path in (v.split("=", 1) for v in args.variants.split(","))]
    results = json.loads(args.results.read_text()) if args.results.exists() else {}
    for n in [int(s) for s in args.sizes.split(",")]:
        for storage in args.storages.split(","):
            home = build(storage, n, args.rebuild)
            for label, code in variants:
                entry: dict[str, Any] = {
                    "machine_at_start": machine(),
                    "built": json.loads((home / BUILT).read_text()),
                    "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                }
                if args.only in (None, "ticks"):
                    # A different hearing changes each time, so a kept archive can be measured again.
                    changed = TEMPLATES + int(time.time()) % (n - TEMPLATES)
                    entry["ticks"] = run_json(
                        ["_ticks", str(n), str(changed)], archive_env(home, code), timeout_s=args.timeout
                    )
                    print(f"{label} {storage}-{n} ticks: {entry['ticks']}", file=sys.stderr, flush=True)
                if args.only in (None, "api"):
                    entry["api"] = api(home, n, code, args.timeout, storage)
                    print(f"{label} {storage}-{n} api: {entry['api']}", file=sys.stderr, flush=True)
                entry["machine_at_end"] = machine()
                results.setdefault(label, {}).setdefault(storage, {})[str(n)] = entry
                args.results.parent.mkdir(parents=True, exist_ok=True)
                args.results.write_text(json.dumps(results, indent=2))
    print(json.dumps({label: results[label] for label, _ in variants}, indent=2))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_fill":
        print(json.dumps(fill(int(sys.argv[2]))))
    elif len(sys.argv) > 1 and sys.argv[1] == "_ticks":
        print(json.dumps(ticks(int(sys.argv[2]), int(sys.argv[3]))))
    else:
        main()
