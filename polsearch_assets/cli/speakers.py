"""``polsearch speakers``: name hearing speakers, list and forget people, show who speaks in a hearing.

On this machine by default (``polsearch_assets.local.speakers``); with ``--url``, on a deployment through its
GraphQL API: ``name`` and ``forget`` launch the ``speaker_library`` job, and the deployment's automation
then updates every hearing's names; ``list`` and ``show`` read what the library's last change and the
hearing's last ``speaker_names`` recorded.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import click

from polsearch_assets.cli.remote import api_for, fail, follow_run
from polsearch_assets.client import DagsterApiError
from polsearch_assets.core.text import for_display

remote_option = click.option(
    "--url",
    default=None,
    help="A deployment's Dagster webserver: change or read its library there instead of on this machine.",
)


@click.group()
def speakers() -> None:
    """Named speakers: a voiceprint library that names speakers across hearings."""


@speakers.command("name")
@click.argument("key")
@click.argument("speaker")
@click.argument("person")
@click.option("--person-id", help="An id for the person, e.g. a Bioguide ID (C000127).")
@click.option("--role", help="e.g. Senator, witness.")
@click.option("--party", help="Party.")
@click.option("--state", help="State.")
@click.option(
    "--wait/--no-wait", default=True, show_default=True, help="--url: follow the run until it ends."
)
@remote_option
def name_command(
    key: str,
    speaker: str,
    person: str,
    person_id: str | None,
    role: str | None,
    party: str | None,
    state: str | None,
    wait: bool,
    url: str | None,
) -> None:
    """Name SPEAKER (a label such as SPEAKER_3) of hearing KEY as PERSON: its voice is enrolled, and every hearing
    where the voice matches is named after PERSON."""
    facts = {"person_id": person_id, "role": role, "party": party, "state": state}
    if url:
        _remote_change(url, wait, lambda api: api.name_speaker(key, speaker, person, **facts))
        return
    from polsearch_assets.local import speakers as local

    try:
        click.echo(for_display(local.name(key, speaker, person, **facts, emit=_echo)))
    except (local.SpeakerLibraryError, ValueError) as error:
        fail(str(error))


@speakers.command("forget")
@click.argument("person")
@click.option(
    "--wait/--no-wait", default=True, show_default=True, help="--url: follow the run until it ends."
)
@remote_option
def forget_command(person: str, wait: bool, url: str | None) -> None:
    """Remove every voiceprint of PERSON (name or person id); hearings named after them lose the name."""
    if url:
        _remote_change(url, wait, lambda api: api.forget_person(person))
        return
    from polsearch_assets.local import speakers as local

    try:
        click.echo(for_display(local.forget(person, emit=_echo)))
    except (local.SpeakerLibraryError, ValueError) as error:
        fail(str(error))


@speakers.command("refresh")
def refresh_command() -> None:
    """Bring every hearing's speaker names and index rows up to the library's current version (what `name`
    and `forget` do after their change; for a hearing a crash or a busy run left behind)."""
    from polsearch_assets.local import speakers as local

    if not local.refresh(emit=_echo):
        click.echo("every hearing's names follow the library")


@speakers.command("check")
def check_command() -> None:
    """Check that the library, each hearing's speaker_names and its index rows agree; exit 1 where they do not
    (`speakers refresh` repairs that)."""
    from polsearch_assets.local import speakers as local

    found = local.check()
    for line in found:
        click.echo(for_display(line))
    if found:
        sys.exit(1)
    click.echo("the library, every hearing's speaker names and its index rows agree")


def _echo(line: str) -> None:
    click.echo(for_display(line))  # lines carry people's names, given by users


@speakers.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of people.")
@remote_option
def list_command(as_json: bool, url: str | None) -> None:
    """The people in the voiceprint library, with their voiceprints and the hearings they came from."""
    if url:
        try:
            found = api_for(url).speaker_library()
        except DagsterApiError as error:
            fail(str(error))
    else:
        from polsearch_assets.local import speakers as local

        found = local.people()
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    if not found:
        click.echo("nobody enrolled; name a speaker with: polsearch speakers name KEY SPEAKER_N 'NAME'")
        return
    for entry in found:
        facts = ", ".join(for_display(entry[f]) for f in ("person_id", "role", "party", "state") if entry[f])
        click.echo(
            f"{for_display(entry['person'])}{f' ({facts})' if facts else ''}: {entry['voiceprints']} voiceprint(s) "
            f"from {', '.join(entry['hearings'])}"
        )


@speakers.command("show")
@click.argument("key")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, one object per speaker.")
@remote_option
def show_command(key: str, as_json: bool, url: str | None) -> None:
    """Each speaker of hearing KEY: the person it matches (and how closely), its speaking time, and names
    heard introduced just before it spoke (suggestions to confirm with `speakers name`)."""
    if url:
        try:
            found = _remote_show(url, key)
        except DagsterApiError as error:
            fail(str(error))
    else:
        from polsearch_assets.local import speakers as local

        try:
            found = [s.to_json() for s in local.show(key)]
        except (local.SpeakerLibraryError, ValueError) as error:
            fail(str(error))
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    if not found:
        click.echo(f"hearing {key}: no speakers")
    for entry in found:
        who = for_display(entry["person"]) or "(unnamed)"
        close = f" similarity {entry['similarity']:.2f}" if entry["similarity"] is not None else ""
        nearest = ""
        if not entry["person"] and entry.get("candidate"):
            why = (
                "not named: part of its speech is another voice, two people may be in this speaker"
                if entry.get("mixed")
                else "under the threshold"
            )
            nearest = (
                f"; closest: {for_display(entry['candidate'])} ({entry['candidate_similarity']:.2f}, {why})"
            )
        click.echo(f"{entry['speaker']:<11} {who}{close}  {entry['speaking_ms'] / 1000:.1f} s{nearest}")
        for suggestion in entry["suggestions"]:
            click.echo(f"            introduced as: {for_display(suggestion)}?")


def _remote_show(url: str, key: str) -> list[dict[str, Any]]:
    found = api_for(url).hearing_speakers(key)
    rows = []
    for entry in found["speakers"]:
        named = entry.get("person") is not None
        rows.append(
            {
                "speaker": entry["speaker"],
                "person": entry.get("person"),
                "person_id": entry.get("person_id"),
                "similarity": entry.get("similarity") if named else None,
                "speaking_ms": entry["speaking_ms"],
                "candidate": entry.get("candidate"),
                "candidate_similarity": None if named else entry.get("similarity"),
                "mixed": bool(entry.get("mixed")),
                "suggestions": [c["name"] for c in found["cues"] if c["speaker"] == entry["speaker"]],
            }
        )
    return sorted(rows, key=lambda r: -r["speaking_ms"])


def _remote_change(url: str, wait: bool, launch: Callable[[Any], str]) -> None:
    api = api_for(url)
    try:
        run_id = launch(api)
        click.echo(f"run {run_id} (speaker_library)")
        code = follow_run(api, run_id) if wait else 0
    except DagsterApiError as error:
        fail(str(error))
    if code == 0 and wait:
        click.echo("the deployment's automation now updates every hearing's speaker names and index rows")
    sys.exit(code)
