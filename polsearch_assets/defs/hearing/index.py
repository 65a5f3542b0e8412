"""hearing_index and word_archive: what search reads, and every word kept (asset bodies; specs in assets.py)."""

import dagster as dg
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from polsearch_assets.core.artifacts import WORD_ARCHIVE_PARQUET, read_aligned_segments, read_speaker_names
from polsearch_assets.core.catalog import HearingCatalog
from polsearch_assets.core.index.segments import HearingInfo, NamedSpeaker, build_rows, reusable_vectors
from polsearch_assets.defs.hearing.engines import TextEmbedderResource
from polsearch_assets.defs.platform.artifacts import ArtifactStoreResource
from polsearch_assets.defs.platform.index import LanceIndex

# A LanceDB commit can conflict with another hearing's concurrent write, or object storage can hiccup:
# retry the step (the write is idempotent: it replaces this hearing's rows) before failing it.
INDEX_WRITE_RETRY = dg.RetryPolicy(
    max_retries=3, delay=2, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)


def hearing_index(
    context: dg.AssetExecutionContext,
    artifact_store: ArtifactStoreResource,
    embedder: TextEmbedderResource,
    lance_index: LanceIndex,
) -> dg.MaterializeResult:
    key = context.partition_key
    entry = HearingCatalog(artifact_store).get(key)
    segments = [s.to_json() for s in read_aligned_segments(artifact_store, key)]
    speaker_names = read_speaker_names(artifact_store, key)
    names = {
        label: NamedSpeaker(name.person, name.person_id) for label, name in speaker_names.named().items()
    }
    index = lance_index.open(embedder.engine.dimension)
    # A re-run for new speaker names keeps the text, so its vectors are reused, not computed again.
    current = index.rows(key)
    stored = reusable_vectors(current, embedder.model_identity)
    todo = [s["text"] for s in segments if (s["index"], s["text"]) not in stored]
    fresh = iter(embedder.engine.embed(todo)) if todo else iter(())
    found = [stored[k] if (k := (s["index"], s["text"])) in stored else next(fresh) for s in segments]
    vectors = np.stack(found) if found else np.zeros((0, embedder.engine.dimension), dtype=np.float32)
    info = HearingInfo(
        key=key,
        title=entry.title if entry else None,
        channel=entry.channel if entry else None,
        committee=entry.committee if entry else None,
        published_date=entry.published_date if entry else None,
        source_url=entry.location if entry else None,
    )
    new_rows = build_rows(info, segments, vectors, names, embedder.model_identity)
    written = index.replace_hearing(key, new_rows, current=current)
    rows = index.count(key)
    if rows != len(segments):
        raise dg.Failure(
            description=f"hearing {key}: index holds {rows} rows after the write, expected {len(segments)}"
        )
    if not rows:
        context.log.warning(f"hearing {key}: no speech, so no index rows")
    return dg.MaterializeResult(
        metadata={
            "rows": rows,
            "indexed": dg.MetadataValue.bool(rows > 0),
            "written": dg.MetadataValue.bool(written),  # False: the hearing already had exactly these rows
            "embedded": len(todo),
            "named_speakers": len(names),
            # The voiceprint library version these rows' names follow (-1: names from before it was kept);
            # a hearing behind the library is refreshed again (defs/hearing/name_refresh.py).
            "library_version": -1 if speaker_names.library_version is None else speaker_names.library_version,
            "table_rows": index.count(),
            "embedding_model": embedder.model_identity,
            "dimension": embedder.engine.dimension,
            "lancedb_uri": lance_index.uri,
        }
    )


WORD_ARCHIVE_SCHEMA = pa.schema(
    [
        ("segment_index", pa.int32()),
        ("word_index", pa.int32()),
        ("word", pa.string()),
        ("start_ms", pa.int32()),
        ("end_ms", pa.int32()),
        ("confidence", pa.float32()),
        ("speaker", pa.string()),
    ]
)


def word_archive(
    context: dg.AssetExecutionContext, artifact_store: ArtifactStoreResource
) -> dg.MaterializeResult:
    key = context.partition_key
    segments = read_aligned_segments(artifact_store, key)
    rows = [
        (s.index, i, w.word, w.start_ms, w.end_ms, w.confidence, w.speaker)
        for s in segments
        for i, w in enumerate(s.words)
    ]
    table = pa.Table.from_pylist(
        [dict(zip(WORD_ARCHIVE_SCHEMA.names, r, strict=True)) for r in rows], schema=WORD_ARCHIVE_SCHEMA
    )
    with artifact_store.writer(key, WORD_ARCHIVE_PARQUET) as path:
        pq.write_table(table, path, compression="zstd")
    return dg.MaterializeResult(
        metadata={
            "words": len(rows),
            "size_bytes": artifact_store.size(key, WORD_ARCHIVE_PARQUET),
            "uri": dg.MetadataValue.path(artifact_store.uri(key, WORD_ARCHIVE_PARQUET)),
        }
    )
