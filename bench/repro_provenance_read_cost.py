"""What Dagster's GraphQL costs per hearing for the provenance ``backfill --stale`` decides from, and its floor.

    .venv/bin/python bench/bench_archive.py --only api --sizes 30000 --storages sqlite   # builds the archive
    .venv/bin/python bench/repro_provenance_read_cost.py bench/out/archive/sqlite-30000   # then this

Resolves ``latestMaterializationByPartition`` for 1,000 hearings of each hearing asset in this process
(Dagster's GraphQL schema and resolvers, the archive's instance, the project's code location loaded in
process: no HTTP, no webserver), once with the provenance selection the client asks for (``timestamp tags
{ key value }``) and once with ``timestamp`` alone. CPU milliseconds per materialization, the median of
three rounds after a warm-up.

``timestamp`` alone is the floor of any exact answer through GraphQL: the code version, the inputs' data
versions and event pointers a materialization recorded are in its event's JSON only. Dagster indexes just
``dagster/data_version`` (and multi-partition keys) in ``asset_event_tags``
(``EventLogStorage.get_asset_tags_to_index``), no GraphQL field reads that index, and every field that
answers per partition (``latestMaterializationByPartition``, ``assetMaterializations``,
``dataVersionByPartition``, ``staleStatusByPartition``) deserializes at least the latest event of each
partition (Dagster 1.13.27).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SELECTIONS = {"provenance": "timestamp tags { key value }", "timestamp only": "timestamp"}
QUERY = """query Q($assetKeys: [AssetKeyInput!], $keys: [String!]) {
  assetNodes(assetKeys: $assetKeys) { latestMaterializationByPartition(partitions: $keys) { %s } }
}"""


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("archive", type=Path, help="An archive built by bench_archive.py (its directory).")
    parser.add_argument("--hearings", type=int, default=1000)
    args = parser.parse_args()
    os.environ["DAGSTER_HOME"] = str(args.archive.resolve() / "dagster")
    os.environ["POLSEARCH_HOME"] = str(args.archive.resolve() / "polsearch")

    import dagster as dg
    from dagster._core.remote_origin import InProcessCodeLocationOrigin
    from dagster._core.test_utils import InProcessTestWorkspaceLoadTarget
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster_graphql.test.utils import execute_dagster_graphql

    from polsearch_assets.core.contracts import HEARING_ASSETS

    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(module_name="polsearch_assets.definitions", working_directory=str(REPO)),
        location_name="polsearch",
    )
    # Hearings 1,000 on: complete ones (every tenth stops early), copies of the recorded templates.
    keys = [f"bench-{i:06d}" for i in range(1000, 1000 + args.hearings)]
    with WorkspaceProcessContext(
        dg.DagsterInstance.get(), InProcessTestWorkspaceLoadTarget(origin)
    ) as process:
        for asset in HEARING_ASSETS:
            row = {"asset": asset}
            for label, selection in SELECTIONS.items():
                costs, found = [], 0
                for _ in range(4):
                    context = process.create_request_context()
                    started = cpu_s()
                    result = execute_dagster_graphql(
                        context, QUERY % selection, {"assetKeys": [{"path": [asset]}], "keys": keys}
                    )
                    json.dumps(result.data)  # the webserver encodes the answer too
                    costs.append(cpu_s() - started)
                    found = sum(
                        e is not None
                        for e in result.data["assetNodes"][0]["latestMaterializationByPartition"]
                    )
                row[f"{label} ms"] = round(1000 * statistics.median(costs[1:]) / max(found, 1), 3)
                row["materializations"] = found
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
