"""CLI commands that drive a running deployment through its Dagster GraphQL API.

``--url`` (default ``POLSEARCH_DAGSTER_URL``, read with every other setting by ``config.Settings``) names the
webserver. Behind an authenticating proxy,
``POLSEARCH_DAGSTER_TOKEN`` is sent as ``Authorization: Bearer <token>`` and
``POLSEARCH_DAGSTER_HEADER`` (``Name: value``) as one more header. Exit codes: 0 done,
1 a run failed or was canceled, 2 bad input or an API error.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import click

from polsearch_assets.client import HEARING_ASSETS, BackfillPlan, DagsterApi, DagsterApiError, StepState
from polsearch_assets.config import Settings
from polsearch_assets.core.text import for_display

url_option = click.option(
    "--url", default=None, help="The deployment's Dagster webserver; default: POLSEARCH_DAGSTER_URL."
)


def hearing_facts(command: Callable[..., Any]) -> Callable[..., Any]:
    """--title/--channel/--published-date/--committee, shared by ingest and submit."""
    for option in reversed(
        [
            click.option("--title", help="Hearing title (yt-dlp fills it for YouTube if omitted)."),
            click.option("--channel", help="Channel or publisher."),
            click.option("--published-date", help="Publication date, YYYY-MM-DD."),
            click.option("--committee", help="Committee holding the hearing."),
        ]
    ):
        command = option(command)
    return command


def api_for(url: str | None, settings: Settings | None = None) -> DagsterApi:
    """The deployment at ``url`` (default ``POLSEARCH_DAGSTER_URL``), with the settings' token, header and
    code location (settings: the environment's)."""
    try:
        settings = settings or Settings.from_env()
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    headers = {}
    if token := settings.dagster_token.strip():
        headers["Authorization"] = f"Bearer {token}"
    if header := settings.dagster_header.strip():
        name, _, value = header.partition(":")
        if not value:
            raise click.UsageError("POLSEARCH_DAGSTER_HEADER must look like 'Name: value'")
        headers[name.strip()] = value.strip()
    return DagsterApi(
        url=url or settings.dagster_url,
        headers=headers,
        location=settings.dagster_location,
        timeout_s=settings.dagster_timeout_s,
    )


def fail(message: str) -> None:
    click.echo(f"error: {for_display(message)}", err=True)
    sys.exit(2)


def _clock(timestamp: float | None) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S") if timestamp else "-"


def _step_line(step: StepState) -> str | None:
    took = f" in {step.end_time - step.start_time:.1f} s" if step.start_time and step.end_time else ""
    return {
        "IN_PROGRESS": f"[{step.step}] started",
        "SUCCESS": f"[{step.step}] succeeded{took}",
        "FAILURE": f"[{step.step}] FAILED{took}",
        "SKIPPED": f"[{step.step}] skipped (an upstream step or blocking check failed)",
        "UP_FOR_RETRY": f"[{step.step}] transient failure, retrying",
    }.get(step.status or "")


def follow_run(api: DagsterApi, run_id: str) -> int:
    """Print the run's steps as they change; the exit code of its outcome."""

    def report(step: StepState) -> None:
        if line := _step_line(step):
            click.echo(line)

    state = api.wait(run_id, on_step=report)
    click.echo(f"run {run_id}: {state.status}")
    if state.status == "SUCCESS":
        return 0
    click.echo(f"error: {for_display(api.run_error(run_id)) or state.status}", err=True)
    return 1


@click.command()
@click.argument("source")
@hearing_facts
@click.option("--wait", is_flag=True, help="Follow the run per step until it ends; the exit code says how.")
@click.option("--json", "as_json", is_flag=True, help="Print {key, new, run_id[, status]} as JSON.")
@url_option
def submit(
    source: str,
    title: str | None,
    channel: str | None,
    published_date: str | None,
    committee: str | None,
    wait: bool,
    as_json: bool,
    url: str | None,
) -> None:
    """Register SOURCE as a hearing on the deployment at --url and launch all its assets."""
    api = api_for(url)
    try:
        submission = api.submit(
            source, title=title, channel=channel, published_date=published_date, committee=committee
        )
        if not as_json:
            click.echo(
                f"hearing {submission.key} ({'registered' if submission.new_partition else 'already registered'})"
            )
            click.echo(
                f"run {submission.run_id}" + (" (already in progress)" if submission.already_running else "")
            )
        code = follow_run(api, submission.run_id) if wait and not as_json else 0
        if as_json:
            result: dict[str, Any] = {
                "key": submission.key,
                "new": submission.new_partition,
                "run_id": submission.run_id,
                "already_running": submission.already_running,
            }
            if wait:
                result["status"] = api.wait(submission.run_id).status
                code = 0 if result["status"] == "SUCCESS" else 1
            click.echo(json.dumps(result))
    except (DagsterApiError, ValueError, FileNotFoundError) as error:
        fail(str(error))
    sys.exit(code)


@click.command()
@click.argument("key")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@url_option
def status(key: str, as_json: bool, url: str | None) -> None:
    """Each asset's state for hearing KEY, its last run, and the error if that run failed."""
    try:
        found = api_for(url).status(key)
    except DagsterApiError as error:
        fail(str(error))
    if as_json:
        click.echo(json.dumps(asdict(found), indent=2))
        return
    click.echo(f"hearing {key}")
    for name, asset in found.assets.items():
        stale = " (stale)" if asset.stale else ""
        click.echo(f"  {name:<17} {asset.state + stale:<22} {_clock(asset.materialized_at)}")
    if found.last_run:
        run = found.last_run
        click.echo(
            f"last run {run.run_id}: {run.status} ({run.job}, started {_clock(run.started or run.created)})"
        )
    if found.error:
        click.echo(f"error: {for_display(found.error)}")


@click.command()
@click.argument("key")
@click.option("--wait", is_flag=True, help="Follow the new run until it ends.")
@url_option
def retry(key: str, wait: bool, url: str | None) -> None:
    """Re-execute hearing KEY's failed run from the failure (the steps that succeeded are not run again)."""
    api = api_for(url)
    try:
        run_id = api.retry(key)
        click.echo(f"run {run_id} (re-execution from failure)")
        code = follow_run(api, run_id) if wait else 0
    except DagsterApiError as error:
        fail(str(error))
    sys.exit(code)


@click.command()
@click.option(
    "--missing", "mode", flag_value="missing", default=True, help="Hearings not fully materialized (default)."
)
@click.option(
    "--stale", "mode", flag_value="stale", help="Hearings with a stale asset: it and everything after it."
)
@click.option("--all", "mode", flag_value="all", help="Every hearing, every asset.")
@click.option(
    "--max",
    "limit",
    type=click.IntRange(min=1),
    help="At most this many hearings (first by key); --stale stops asking once it has found them.",
)
@click.option("--dry-run", is_flag=True, help="Show what would be backfilled, launch nothing.")
@click.option(
    "--local",
    is_flag=True,
    help="With --stale --dry-run: decide on this machine's instance (DAGSTER_HOME) in-process, with the code "
    "the deployment's stale_hearings sensor runs.",
)
@url_option
def backfill(mode: str, limit: int | None, dry_run: bool, local: bool, url: str | None) -> None:
    """Launch one backfill over the chosen hearings; the run queue paces its runs."""
    if local:
        if mode != "stale" or not dry_run or url:
            raise click.UsageError("--local goes with --stale --dry-run and no --url")
        from polsearch_assets.local.stale import local_stale_plan

        _print_plan(mode, local_stale_plan(limit))
        return
    api = api_for(url)
    try:
        plan = api.plan_backfill(
            mode,
            limit,
            progress=lambda asked, of: click.echo(f"checked {asked}/{of} hearings for staleness", err=True),
            cache_progress=lambda read, left: click.echo(
                f"provenance cache: read {read} events, at least {left} more to read; asking again", err=True
            ),
        )
        if not plan.keys or dry_run:
            _print_plan(mode, plan)
            return
        for key in plan.keys:
            click.echo(f"{key}\t{','.join(plan.assets_by_key[key])}")
        backfill_id = api.launch_backfill(
            plan, title=f"polsearch backfill --{mode} ({len(plan.keys)} hearings)"
        )
    except DagsterApiError as error:
        fail(str(error))
    click.echo(f"backfill {backfill_id}: {len(plan.keys)} hearings")


def _print_plan(mode: str, plan: BackfillPlan) -> None:
    """The plan a line per hearing (key, assets) and what a dry run would launch."""
    if not plan.keys:
        click.echo(f"no {mode} hearings: nothing to backfill")
        return
    for key in plan.keys:
        click.echo(f"{key}\t{','.join(plan.assets_by_key[key])}")
    click.echo(f"dry run: {len(plan.keys)} hearings would be backfilled")


@click.command()
@click.argument("source")
@click.option(
    "--from", "date_from", required=True, type=click.DateTime(["%Y-%m-%d"]), help="First day, YYYY-MM-DD."
)
@click.option(
    "--to", "date_to", required=True, type=click.DateTime(["%Y-%m-%d"]), help="Last day, YYYY-MM-DD."
)
@click.option("--committee", help="Committee to record with every hearing found.")
@click.option("--submit", "launch", is_flag=True, help="Backfill the registered hearings right away.")
@click.option("--max-lookups", default=500, show_default=True, help="Entries looked up for a missing date.")
@url_option
def plan(
    source: str,
    date_from: datetime,
    date_to: datetime,
    committee: str | None,
    launch: bool,
    max_lookups: int,
    url: str | None,
) -> None:
    """Register SOURCE's (a channel's or playlist's) uploads published from --from to --to as hearings."""
    from polsearch_assets.core.audio.media import MediaError
    from polsearch_assets.core.sources.registry import resolve_source
    from polsearch_assets.core.uploads.history import list_past_uploads

    if date_to < date_from:
        fail("--to is before --from")
    api = api_for(url)
    try:
        uploads = list_past_uploads(source, date_from.date(), date_to.date(), max_lookups=max_lookups)
        if not uploads:
            click.echo(f"no uploads of {source} from {date_from:%Y-%m-%d} to {date_to:%Y-%m-%d}")
            return
        keys = [resolve_source(u.url).key for u in uploads]
        run_id = api.register_hearings(
            [
                {
                    "source": u.url,
                    "title": u.title,
                    "channel": u.channel,
                    "published_date": u.published.isoformat(),
                    "committee": committee,
                }
                for u in uploads
            ]
        )
        if follow_run(api, run_id):
            sys.exit(1)
        for key, upload in zip(keys, uploads, strict=True):
            click.echo(f"{key}\t{upload.published}\t{for_display(upload.title or upload.url)}")
        click.echo(f"{len(keys)} hearings registered")
        if launch:
            backfill_id = api.launch_backfill(
                BackfillPlan(keys, {k: list(HEARING_ASSETS) for k in keys}),
                title=f"polsearch plan {date_from:%Y-%m-%d}..{date_to:%Y-%m-%d} ({len(keys)} hearings)",
            )
            click.echo(f"backfill {backfill_id}: {len(keys)} hearings")
    except (DagsterApiError, MediaError, ValueError) as error:
        fail(str(error))


REMOTE_COMMANDS = [submit, status, retry, backfill, plan]
