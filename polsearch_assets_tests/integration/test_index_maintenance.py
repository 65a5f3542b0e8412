"""Index maintenance through Dagster: the sensor asks for it when due, the job does it, then nothing is due."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import numpy as np
from dagster._core.events import DagsterEventType

from polsearch_assets.core.index.segments import HearingInfo, build_rows
from polsearch_assets.defs.maintenance.index import index_maintenance, index_maintenance_due
from polsearch_assets.defs.platform.index import LanceIndex

DIM = 16


def write_hearing(index_resource: LanceIndex, key: str, rows: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((rows, DIM)).astype(np.float32)
    segments = [
        {"index": i, "start_ms": i * 1000, "end_ms": i * 1000 + 900, "text": f"{key} point {i}", "speaker": "SPEAKER_0"}
        for i in range(rows)
    ]  # fmt: skip
    info = HearingInfo(key, None, None, "Judiciary", "2026-01-02", None)
    index_resource.open(DIM).replace_hearing(key, build_rows(info, segments, vectors))


def evaluate(instance: dg.DagsterInstance, lance_index: LanceIndex) -> dg.SensorResult:
    context = dg.build_sensor_context(instance=instance, resources={"lance_index": lance_index})
    return index_maintenance_due(context)


def test_the_sensor_starts_maintenance_when_due_and_the_job_does_it(tmp_path: Path) -> None:
    lance_index = LanceIndex.from_settings(uri=str(tmp_path / "lancedb"), vector_index_min_rows=600)
    with dg.instance_for_test() as instance:
        assert evaluate(instance, lance_index).skip_reason  # no table yet: nothing to do
        write_hearing(lance_index, "h1", 400, 1)
        assert evaluate(instance, lance_index).skip_reason  # small, every search index built by the write
        write_hearing(lance_index, "h2", 400, 2)
        due = evaluate(instance, lance_index)
        assert len(due.run_requests or []) == 1  # 800 rows and no vector index
        assert "no vector index" in due.run_requests[0].tags["polsearch/maintenance_due"]

        result = index_maintenance.execute_in_process(
            instance=instance,
            resources={"lance_index": lance_index},
            run_config={"ops": {"maintain_segment_index": {"config": {"cleanup_older_than_hours": 0.0}}}},
        )
        assert result.success
        (output,) = [e for e in result.all_events if e.event_type == DagsterEventType.STEP_OUTPUT]
        metadata = output.event_specific_data.metadata  # type: ignore[union-attr]
        assert metadata["rows"].value == 800 and metadata["unindexed_rows"].value == 0
        assert metadata["vector_segments"].value == 1 and metadata["built"].value == ["vector"]
        assert evaluate(instance, lance_index).skip_reason.skip_message == "the index needs no maintenance"  # type: ignore[union-attr]
        assert lance_index.open().count() == 800
