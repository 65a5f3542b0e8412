"""The ``polsearch`` command line: ingest and list hearings on the embedded default."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import click

from polsearch_assets.settings import polsearch_home

_REPO_DAGSTER_YAML = Path(__file__).resolve().parents[1] / "dagster.yaml"


def _instance():
    """The DAGSTER_HOME instance; defaults to $POLSEARCH_HOME/dagster with the project's dagster.yaml."""
    import dagster as dg

    if not os.environ.get("DAGSTER_HOME"):
        home = polsearch_home() / "dagster"
        home.mkdir(parents=True, exist_ok=True)
        if not (home / "dagster.yaml").exists() and _REPO_DAGSTER_YAML.is_file():
            shutil.copyfile(_REPO_DAGSTER_YAML, home / "dagster.yaml")
        os.environ["DAGSTER_HOME"] = str(home)
    return dg.DagsterInstance.get()


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


@click.group()
def main() -> None:
    """polsearch: searchable, speaker-labelled transcripts of hearings, on Dagster."""


@main.command()
@click.argument("source")
@click.option("--title", help="Hearing title (yt-dlp fills it for YouTube if omitted).")
@click.option("--channel", help="Channel or publisher.")
@click.option("--published-date", help="Publication date, YYYY-MM-DD.")
@click.option("--committee", help="Committee holding the hearing.")
def ingest(
    source: str, title: str | None, channel: str | None, published_date: str | None, committee: str | None
) -> None:
    """Register SOURCE (YouTube URL, media URL or local file) and materialize all its assets in-process."""
    from polsearch_assets.definitions import defs
    from polsearch_assets.hearings import materialize_hearing, register_hearing

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
        _fail(str(error))
    key = registration.entry.key
    state = "registered" if registration.new_partition else "already registered"
    click.echo(f"hearing {key} ({state}); DAGSTER_HOME={os.environ['DAGSTER_HOME']}")
    result = materialize_hearing(instance, defs.resolve_job_def("hearing_pipeline"), key)
    click.echo(f"run {result.run_id}: {'SUCCESS' if result.success else 'FAILURE'}")
    click.echo(key)
    sys.exit(0 if result.success else 1)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
def hearings(as_json: bool) -> None:
    """List registered hearings with the state of each asset."""
    from polsearch_assets.catalog import HearingCatalog
    from polsearch_assets.definitions import HEARING_ASSETS, defs
    from polsearch_assets.hearings import asset_states
    from polsearch_assets.partitions import hearings_partitions

    instance = _instance()
    keys = sorted(instance.get_dynamic_partitions(hearings_partitions.name))
    asset_keys = [asset.key for asset in HEARING_ASSETS]
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
        click.echo(
            "\t".join(
                [row["key"], *(row["assets"][n] for n in names), row.get("title") or "", row["source"] or ""]
            )
        )
