"""The ``polsearch`` command line.

In-process, on this machine's instance: ``ingest``, ``hearings``, ``search``, ``export``.
Against a running deployment's GraphQL API: ``submit``, ``status``, ``retry``, ``backfill``, ``plan``.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import sys
from pathlib import Path

import click

from polsearch_assets.cli.remote import REMOTE_COMMANDS, fail, hearing_facts
from polsearch_assets.config import Settings
from polsearch_assets.core.index.export import FORMATS
from polsearch_assets.core.text import for_display

_REPO_DAGSTER_YAML = Path(__file__).resolve().parents[2] / "dagster.yaml"


def _instance():
    """The DAGSTER_HOME instance; defaults to $POLSEARCH_HOME/dagster.

    A home the CLI creates (the default, or a DAGSTER_HOME that does not exist yet) gets the
    project's dagster.yaml; an existing one is used as it is.
    """
    import dagster as dg

    home = Path(os.environ.get("DAGSTER_HOME") or Settings.from_env().polsearch_home() / "dagster")
    if not home.exists() or not os.environ.get("DAGSTER_HOME"):
        home.mkdir(parents=True, exist_ok=True)
        if not (home / "dagster.yaml").exists() and _REPO_DAGSTER_YAML.is_file():
            shutil.copyfile(_REPO_DAGSTER_YAML, home / "dagster.yaml")
    os.environ["DAGSTER_HOME"] = str(home.resolve())
    # Opening an instance creates its SQLite tables the first time; two commands doing that at once
    # crash ("table ... already exists"), so the first opening is one at a time.
    with open(home / ".polsearch-open.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        instance = dg.DagsterInstance.get()
    from polsearch_assets.defs.hearing.runs import end_abandoned_runs

    for run_id in end_abandoned_runs(instance):  # runs of killed ingests would otherwise stay STARTED
        click.echo(f"run {run_id}: its process is gone (killed or crashed); marked failed", err=True)
    return instance


@click.group()
def main() -> None:
    """polsearch: searchable, speaker-labelled transcripts of hearings, on Dagster."""


@main.command()
@click.argument("source")
@hearing_facts
def ingest(
    source: str, title: str | None, channel: str | None, published_date: str | None, committee: str | None
) -> None:
    """Register SOURCE (YouTube URL, media URL or local file) and materialize all its assets in-process."""

    from polsearch_assets.definitions import defs
    from polsearch_assets.defs.hearing.registration import (
        bad_source_error,
        materialize_hearing,
        register_hearing,
        was_interrupted,
    )
    from polsearch_assets.defs.hearing.runs import HearingBusy, hearing_lock, refuse_if_busy

    instance = _instance()
    store = defs.resources["artifact_store"]
    try:
        registration = register_hearing(
            instance,
            store,
            source,
            title=title,
            channel=channel,
            published_date=published_date,
            committee=committee,
        )
    except (ValueError, FileNotFoundError) as error:
        fail(str(error))
    key = registration.entry.key
    state = "registered" if registration.new_partition else "already registered"
    if registration.moved_from:
        state += f"; its file moved from {registration.moved_from} to {registration.entry.location}"
    click.echo(f"hearing {key} ({state}); DAGSTER_HOME={os.environ['DAGSTER_HOME']}")
    try:
        with hearing_lock(instance, key):
            refuse_if_busy(instance, key)  # a run the daemon launched, or another ingest
            result = materialize_hearing(instance, defs.resolve_job_def("hearing_pipeline"), key)
    except HearingBusy as error:
        click.echo(f"error: {for_display(str(error))}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo(f"error: interrupted; the run of hearing {key} stopped", err=True)
        sys.exit(130)
    if was_interrupted(instance, result.run_id):
        click.echo(f"error: interrupted; run {result.run_id} of hearing {key} stopped (FAILURE)", err=True)
        sys.exit(130)
    click.echo(f"run {result.run_id}: {'SUCCESS' if result.success else 'FAILURE'}")
    click.echo(key)
    if not result.success and (cause := bad_source_error(instance, result.run_id)):
        fail(for_display(cause))  # bad input: exit 2, the cause as the last line
    sys.exit(0 if result.success else 1)


@main.command()
@click.argument("key")
def forget(key: str) -> None:
    """Remove hearing KEY everywhere: its index rows, artifacts, catalog entry and partition."""
    from polsearch_assets.core.keys import InvalidHearingKey
    from polsearch_assets.definitions import defs
    from polsearch_assets.defs.hearing.registration import forget_hearing
    from polsearch_assets.defs.hearing.runs import HearingBusy

    instance = _instance()
    try:
        forget_hearing(instance, defs.resources["artifact_store"], defs.resources["lance_index"].open(), key)
    except (LookupError, InvalidHearingKey, HearingBusy) as error:
        fail(str(error))
    click.echo(f"hearing {key} forgotten: index rows, artifacts, catalog entry and partition removed")


@main.command("export-embedder")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--source",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="A sentence-transformers model directory; default: the bundled all-MiniLM-L6-v2.",
)
def export_embedder(directory: Path, source: Path | None) -> None:
    """Write the embedding model as ONNX to DIRECTORY, for the fastembed backend (POLSEARCH_EMBEDDING_MODEL_PATH)."""
    from polsearch_assets.backends.embedding.onnx_export import export_embedder_onnx

    try:
        out = export_embedder_onnx(directory, source)
    except (RuntimeError, FileNotFoundError) as error:
        fail(str(error))
    click.echo(
        f"wrote {out}; use it with POLSEARCH_EMBEDDING_BACKEND=fastembed POLSEARCH_EMBEDDING_MODEL_PATH={out}"
    )


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
def hearings(as_json: bool) -> None:
    """List registered hearings with the state of each asset."""
    import dagster as dg

    from polsearch_assets.core.catalog import HearingCatalog
    from polsearch_assets.core.contracts import HEARING_ASSETS
    from polsearch_assets.definitions import defs
    from polsearch_assets.defs.hearing.partitions import hearings_partitions
    from polsearch_assets.defs.hearing.registration import asset_states

    instance = _instance()
    keys = sorted(instance.get_dynamic_partitions(hearings_partitions.name))
    asset_keys = [dg.AssetKey(name) for name in HEARING_ASSETS]
    states = asset_states(instance, asset_keys, keys)
    catalog = HearingCatalog(defs.resources["artifact_store"])
    rows = []
    for key in keys:
        entry = catalog.get(key)
        info = entry.to_json() if entry else {"key": key, "source": None, "title": None}
        rows.append({**info, "assets": states[key]})
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no hearings registered; try: polsearch ingest SOURCE")
        return
    names = [k.to_user_string() for k in asset_keys]
    click.echo("\t".join(["key", *names, "title", "source"]))
    for row in rows:
        shown = [for_display(row.get("title")), for_display(row["source"])]
        click.echo("\t".join([row["key"], *(row["assets"][n] for n in names), *shown]))


def _format_ms(ms: int) -> str:
    hours, rest = divmod(ms // 1000, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


@main.command()
@click.argument("query")
@click.option("--hearing", help="Only this hearing (its key).")
@click.option("--speaker", help="Only this speaker label, e.g. SPEAKER_0.")
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of hits.")
def search(query: str, hearing: str | None, speaker: str | None, limit: int, as_json: bool) -> None:
    """Hybrid (vector + full-text) search over indexed hearings."""
    from polsearch_assets.search import UnknownHearing
    from polsearch_assets.search import search as run_search

    try:
        hits = run_search(query, hearing=hearing, speaker=speaker, limit=limit)
    except (UnknownHearing, ValueError) as error:
        fail(str(error))
    if as_json:
        click.echo(json.dumps([hit.to_json() for hit in hits], indent=2))
        return
    if not hits:
        click.echo("no matches")
    for rank, hit in enumerate(hits, start=1):
        click.echo(
            f"{rank}. [{hit.score:.4f}] {for_display(hit.title) or hit.hearing} — "
            f"{for_display(hit.speaker) or 'unknown speaker'} {_format_ms(hit.start_ms)}-{_format_ms(hit.end_ms)}"
        )
        click.echo(f"   {for_display(hit.text)}")
        click.echo(f"   {for_display(hit.url)}")


@main.command()
@click.argument("key")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="txt",
    show_default=True,
)
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, writable=True), help="Write here instead of stdout."
)
def export(key: str, fmt: str, output: str | None) -> None:
    """Write a hearing's aligned transcript (json, srt, vtt, txt) or its diarization (rttm)."""
    from polsearch_assets.core.artifacts import read_aligned_segments, read_diarization
    from polsearch_assets.core.index.export import export as render
    from polsearch_assets.core.keys import InvalidHearingKey
    from polsearch_assets.definitions import defs

    store = defs.resources["artifact_store"]
    try:
        segments = read_aligned_segments(store, key)
        speakers = read_diarization(store, key, with_frames=False)
    except (FileNotFoundError, InvalidHearingKey) as error:
        fail(f"{error}; is the hearing registered and fully ingested? (polsearch hearings)")
    text = render(fmt, key, segments, speakers)
    if output:
        try:
            Path(output).write_text(text, encoding="utf-8")
        except OSError as error:
            fail(f"cannot write {output}: {error.strerror}")
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=False)


for _command in REMOTE_COMMANDS:
    main.add_command(_command)
