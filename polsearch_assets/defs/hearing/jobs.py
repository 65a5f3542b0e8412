"""The job that runs every asset of one hearing, and the job that registers many hearings."""

import dagster as dg
from pydantic import Field

from polsearch_assets.core.contracts import HEARING_ASSETS
from polsearch_assets.core.sources.registry import resolve_source
from polsearch_assets.defs.hearing.audio import HearingFacts
from polsearch_assets.defs.hearing.automation import WHOLE_HEARING_TAG
from polsearch_assets.defs.hearing.registration import register_hearing
from polsearch_assets.defs.hearing.runs import in_process_owned
from polsearch_assets.defs.platform.artifacts import ArtifactStoreResource

hearing_pipeline = dg.define_asset_job(
    "hearing_pipeline",
    selection=dg.AssetSelection.assets(*HEARING_ASSETS),
    tags=WHOLE_HEARING_TAG,
    description="Every asset of one hearing, from its source to its index rows, with their checks.",
)


class HearingToRegister(HearingFacts):
    source: str = Field(description="YouTube URL, media URL or local path.")


class RegisterHearingsConfig(dg.Config):
    hearings: list[HearingToRegister]


@dg.op(name="register_sources")
def register_hearings_op(
    context: dg.OpExecutionContext, config: RegisterHearingsConfig, artifact_store: ArtifactStoreResource
) -> dg.Output[list[str]]:
    """Catalog entries and partitions for many hearings at once; all sources are checked before any is written."""
    bad = []
    for hearing in config.hearings:
        try:
            resolve_source(hearing.source)
        except (ValueError, OSError) as error:
            bad.append(f"{hearing.source}: {error}")
    if bad:
        raise dg.Failure(
            description=f"{len(bad)} source(s) cannot be hearings: {'; '.join(bad)}", allow_retries=False
        )
    keys, new = [], 0
    for hearing in config.hearings:
        facts = hearing.model_dump(exclude={"source"})
        registration = register_hearing(context.instance, artifact_store, hearing.source, **facts)
        keys.append(registration.entry.key)
        new += registration.new_partition
        context.log.info(
            f"hearing {registration.entry.key} {'registered' if registration.new_partition else 'already registered'}: "
            f"{registration.entry.title or hearing.source}"
        )
    return dg.Output(keys, metadata={"hearings": len(keys), "new": new, "keys": dg.MetadataValue.json(keys)})


@dg.job(
    executor_def=in_process_owned,
    description="Registers hearings (catalog entry + partition) without running them.",
)
def register_hearings() -> None:
    register_hearings_op()
