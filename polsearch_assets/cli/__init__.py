"""The ``polsearch`` command line.

In-process, on this machine's instance: ``ingest``, ``hearings``, ``search``, ``export``, ``speakers``
(which also takes ``--url``).
Against a running deployment's GraphQL API: ``submit``, ``status``, ``retry``, ``backfill``, ``plan``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from polsearch_assets.cli.remote import REMOTE_COMMANDS, fail, hearing_facts
from polsearch_assets.cli.speakers import speakers
from polsearch_assets.core.contracts import HEARING_ASSETS
from polsearch_assets.core.index.export import FORMATS
from polsearch_assets.core.text import for_display
from polsearch_assets.local.instance import local_instance


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
    from polsearch_assets.local import hearings

    instance = local_instance()
    try:
        registration = hearings.register(
            source,
            title=title,
            channel=channel,
            published_date=published_date,
            committee=committee,
            instance=instance,
        )
    except (ValueError, FileNotFoundError) as error:
        fail(str(error))
    key = registration.entry.key
    state = "registered" if registration.new_partition else "already registered"
    if registration.moved_from:
        state += f"; its file moved from {registration.moved_from} to {registration.entry.location}"
    click.echo(f"hearing {key} ({state}); DAGSTER_HOME={instance.root_directory}")
    try:
        done = hearings.materialize(key, instance=instance)
    except hearings.HearingBusy as error:
        click.echo(f"error: {for_display(str(error))}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo(f"error: interrupted; the run of hearing {key} stopped", err=True)
        sys.exit(130)
    if done.interrupted:
        click.echo(f"error: interrupted; run {done.run_id} of hearing {key} stopped (FAILURE)", err=True)
        sys.exit(130)
    click.echo(f"run {done.run_id}: {'SUCCESS' if done.success else 'FAILURE'}")
    click.echo(key)
    if done.bad_source:
        fail(for_display(done.bad_source))  # bad input: exit 2, the cause as the last line
    sys.exit(0 if done.success else 1)


@main.command()
@click.argument("key")
def forget(key: str) -> None:
    """Remove hearing KEY everywhere: its index rows, artifacts, catalog entry and partition."""
    from polsearch_assets.core.keys import InvalidHearingKey
    from polsearch_assets.local import hearings

    try:
        hearings.forget(key)
    except (LookupError, InvalidHearingKey, hearings.HearingBusy) as error:
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
@click.option("--limit", type=click.IntRange(min=1), help="At most this many hearings (a page, by key).")
@click.option("--after", "after_key", help="Only hearings whose key sorts after this one (the next page).")
def hearings(as_json: bool, limit: int | None, after_key: str | None) -> None:
    """List registered hearings with the state of each asset."""
    from polsearch_assets.local.hearings import list_hearings

    rows = list_hearings(limit=limit, after=after_key)
    if as_json:  # one hearing per line, each encoded on its own (a large listing stays fast)
        click.echo("[" + ",\n".join(json.dumps(row) for row in rows) + "]")
        return
    if not rows:
        click.echo("no hearings registered; try: polsearch ingest SOURCE")
        return
    click.echo("\t".join(["key", *HEARING_ASSETS, "title", "source"]))
    for row in rows:
        shown = [for_display(row.get("title")), for_display(row["source"])]
        click.echo("\t".join([row["key"], *(row["assets"][n] for n in HEARING_ASSETS), *shown]))


def _format_ms(ms: int) -> str:
    hours, rest = divmod(ms // 1000, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


@main.command()
@click.argument("query")
@click.option("--hearing", help="Only this hearing (its key).")
@click.option(
    "--speaker",
    help="Only this speaker: a person's name or id, a part of the name (case-insensitive: Cantwell), "
    "or a hearing label (SPEAKER_0).",
)
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of hits.")
def search(query: str, hearing: str | None, speaker: str | None, limit: int, as_json: bool) -> None:
    """Hybrid (vector + full-text) search over indexed hearings."""
    from polsearch_assets.local.search import UnknownHearing
    from polsearch_assets.local.search import search as run_search

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
            f"{for_display(hit.speaker_name) or 'unknown speaker'} {_format_ms(hit.start_ms)}-{_format_ms(hit.end_ms)}"
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
    """Write a hearing's aligned transcript (json, srt, vtt, txt; named speakers by name) or its diarization
    (rttm; the hearing's speaker labels)."""
    from polsearch_assets.core.keys import InvalidHearingKey
    from polsearch_assets.local.hearings import export as render

    try:
        text = render(key, fmt)
    except (FileNotFoundError, InvalidHearingKey) as error:
        fail(f"{error}; is the hearing registered and fully ingested? (polsearch hearings)")
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
main.add_command(speakers)
