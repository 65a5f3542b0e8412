"""Minimal reproduction: Dagster serializes every automation condition node's subsets of a dynamically
partitioned asset by walking all partition keys, even when the subset is empty.

    .venv/bin/python bench/repro_dynamic_subset_ranges.py            # 1k, 10k, 30k keys

``AutomationResult.serializable_evaluation`` (the evaluations the sensor stores and its cursor) turns each
node's candidate and true subsets into key ranges (``_get_maybe_compressed_dynamic_partitions_subset`` ->
``DefaultPartitionsSubset.get_partition_key_ranges`` -> ``get_ranges_for_keys``), a loop over every key of
the partitions definition. A tick serializes a few subsets per condition node (~760 for polsearch's seven
conditions as they were made of Dagster's built-ins, 376 nodes; ~80-130 with its own conditions, 84 nodes),
so a tick where nothing changed still costs O(nodes x partitions): at 10,000 hearings that loop was the
largest single cost of polsearch's automation tick, and at 30,000 it still is (bench/bench_archive.py,
BENCHMARKS.md "Fourth round").
Dagster 1.13.27. The workaround within the public API is a smaller condition tree (fewer nodes to
serialize); the fix belongs in Dagster (an empty subset needs no ranges; a sorted walk of the subset's own
keys would cost the subset, not the archive).
"""

from __future__ import annotations

import tempfile
import time

import dagster as dg
from dagster._core.definitions.partitions.subset.default import DefaultPartitionsSubset


def main() -> None:
    partitions = dg.DynamicPartitionsDefinition(name="hearings")
    with tempfile.TemporaryDirectory() as home, dg.instance_for_test(temp_dir=home) as instance:
        added = 0
        for n in (1000, 10000, 30000):
            instance.add_dynamic_partitions("hearings", [f"h-{i:06d}" for i in range(added, n)])
            added = n
            keys = partitions.get_partition_keys(dynamic_partitions_store=instance)
            empty = DefaultPartitionsSubset(set())
            started = time.process_time()
            for _ in range(100):
                empty.get_ranges_for_keys(keys)  # what get_partition_key_ranges does with the loaded keys
            per_call_ms = (time.process_time() - started) * 10
            print(f"{n:>6} partitions: {per_call_ms:.2f} ms CPU per empty subset; x760 subsets per tick = "
                  f"{per_call_ms * 760 / 1000:.2f} s")  # fmt: skip


if __name__ == "__main__":
    main()
