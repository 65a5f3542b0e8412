"""Named speakers: the voiceprint library (an external asset), the job that changes it, and speaker_names.

The library is a LanceDB table beside the index (``core/index/voiceprints``). Every change goes through
the ``speaker_library`` job (from the CLI, the UI's launchpad or GraphQL), which records a
materialization of ``voiceprint_library``; declarative automation then re-runs ``speaker_names`` of every
hearing and, after it, its ``hearing_index`` rows: one backfill, paced by the run queue, with no audio
model running again.
"""

from typing import Literal

import dagster as dg
from pydantic import Field

from polsearch_assets.config import FromSettings, setting
from polsearch_assets.core.artifacts import (
    SPEAKER_NAMES_JSON,
    SpeakerNames,
    read_aligned_segments,
    read_diarization,
    write_speaker_names,
)
from polsearch_assets.core.errors import storage_fault_of
from polsearch_assets.core.index.voiceprints import Person, people
from polsearch_assets.core.keys import validate_hearing_key
from polsearch_assets.core.speakers.naming import (
    MATCH_THRESHOLDS,
    MIXED_MIN_SHARE,
    MIXED_THRESHOLDS,
    find_cues,
    match_speakers,
    match_threshold,
)
from polsearch_assets.defs.hearing.runs import in_process_owned
from polsearch_assets.defs.platform.artifacts import ArtifactStoreResource
from polsearch_assets.defs.platform.index import LanceIndex

VOICEPRINT_LIBRARY = "voiceprint_library"

voiceprint_library = dg.AssetSpec(
    VOICEPRINT_LIBRARY,
    group_name="naming",
    kinds={"lancedb"},
    description="Enrolled people's voices (LanceDB table `voiceprints` beside `segments`): changed only by the "
    "speaker_library job; each change re-runs every hearing's speaker_names and index rows.",
)


class SpeakerMatching(FromSettings, dg.ConfigurableResource):
    """How speaker_names decides that a hearing voice is an enrolled person's."""

    threshold: float | None = setting("speaker_match_threshold")

    @property
    def identity(self) -> str:
        """What the matching depends on, for speaker_names' code_version."""
        mixed = f";mixed<{','.join(f'{e}:{t:g}' for e, t in sorted(MIXED_THRESHOLDS.items()))}@{MIXED_MIN_SHARE:g}"
        if self.threshold is not None:
            return f"cos>={self.threshold:g}{mixed}"
        return "cos>=" + ",".join(f"{e}:{t:g}" for e, t in sorted(MATCH_THRESHOLDS.items())) + mixed


def speaker_names(
    context: dg.AssetExecutionContext,
    artifact_store: ArtifactStoreResource,
    lance_index: LanceIndex,
    speaker_matching: SpeakerMatching,
) -> dg.MaterializeResult:
    key = context.partition_key
    diarization = read_diarization(artifact_store, key, with_frames=False)
    threshold = match_threshold(diarization.voice_encoder, speaker_matching.threshold)
    version, voiceprints = lance_index.library().snapshot()
    names = match_speakers(
        diarization.voices, voiceprints, diarization.voice_encoder, threshold, diarization.turns
    )
    cues = find_cues(read_aligned_segments(artifact_store, key))
    write_speaker_names(
        artifact_store,
        key,
        SpeakerNames(
            diarization.voice_encoder, threshold, tuple(names), tuple(cues), library_version=version
        ),
    )
    named = [n for n in names if n.person]
    if diarization.speakers and not diarization.voices:
        context.log.warning(f"hearing {key}: its diarization kept no voices; re-materialize diarization")
    context.log.info(
        f"hearing {key}: {len(named)} of {len(names)} speakers named, {len(cues)} introductions heard"
    )
    return dg.MaterializeResult(
        metadata={
            "named": len(named),
            "speakers": len(diarization.speakers),
            "voiceprints": len(voiceprints),
            "library_version": version,  # the names follow the library as of this version
            "threshold": dg.MetadataValue.float(threshold)
            if threshold is not None
            else "no calibrated threshold",
            "voice_encoder": diarization.voice_encoder or "none",
            # What `polsearch speakers show --url` reads: the mapping and the suggestions, as written.
            "speaker_names": dg.MetadataValue.json([n.to_json() for n in names]),
            "cues": dg.MetadataValue.json([c.to_json() for c in cues]),
            "uri": dg.MetadataValue.path(artifact_store.uri(key, SPEAKER_NAMES_JSON)),
        }
    )


class SpeakerLibraryChange(dg.Config):
    """One change to the voiceprint library."""

    action: Literal["name", "forget"] = Field(
        description="name: enrol a hearing speaker's voice as a person; forget: remove every voiceprint of a person."
    )
    person: str = Field(description="The person's display name (forget: the name or the person id).")
    hearing: str = Field(default="", description="name: the hearing's key.")
    speaker: str = Field(default="", description="name: the hearing's speaker label, e.g. SPEAKER_3.")
    person_id: str = Field(default="", description="name: an id such as a Bioguide ID (optional).")
    role: str = Field(default="", description="name: e.g. Senator, witness (optional).")
    party: str = Field(default="", description="name: party (optional).")
    state: str = Field(default="", description="name: state (optional).")


class SpeakerLibraryError(ValueError):
    """A change that cannot be made (unknown hearing or speaker, no voice kept); the message says why."""


def change_library(
    change: SpeakerLibraryChange, artifact_store: ArtifactStoreResource, lance_index: LanceIndex
) -> str:
    """Apply ``change``; what was done, in words."""
    library = lance_index.library()
    if change.action == "forget":
        removed = library.forget(change.person)
        if not removed:
            raise SpeakerLibraryError(f"no voiceprint of {change.person!r} in the library")
        return f"forgot {change.person}: {removed} voiceprint(s) removed"
    key = validate_hearing_key(change.hearing)
    try:
        diarization = read_diarization(artifact_store, key, with_frames=False)
    except FileNotFoundError:
        raise SpeakerLibraryError(f"hearing {key} has no diarization; ingest it first") from None
    voice = next((v for v in diarization.voices if v.speaker == change.speaker), None)
    if voice is None or diarization.voice_encoder is None:
        if change.speaker not in diarization.speakers:
            raise SpeakerLibraryError(
                f"hearing {key} has no speaker {change.speaker!r}; its speakers: {', '.join(diarization.speakers)}"
            )
        raise SpeakerLibraryError(
            f"hearing {key}: its diarization kept no voice for {change.speaker}; re-materialize diarization"
        )
    person = Person(
        change.person.strip(),
        change.person_id or None,
        change.role or None,
        change.party or None,
        change.state or None,
    )
    library.enrol(person, key, voice, diarization.voice_encoder)
    return f"named {change.speaker} of {key} {person.person}: its voice enrolled ({voice.speaking_ms / 1000:.0f} s)"


@dg.op(name="change_speaker_library")
def change_speaker_library(
    context: dg.OpExecutionContext,
    config: SpeakerLibraryChange,
    artifact_store: ArtifactStoreResource,
    lance_index: LanceIndex,
) -> None:
    """Name a hearing speaker (enrol its voice) or forget a person; records the library's new state."""
    try:
        done = change_library(config, artifact_store, lance_index)
    except (SpeakerLibraryError, ValueError) as error:
        raise dg.Failure(description=str(error), allow_retries=False) from None
    except Exception as error:
        if fault := storage_fault_of(error):  # the library's volume: read-only, full, not permitted
            raise dg.Failure(description=f"the voiceprint library cannot be changed: {fault}") from error
        raise
    context.log.info(done)
    library = lance_index.library()
    listing = people(library.rows())
    context.log_event(
        dg.AssetMaterialization(
            VOICEPRINT_LIBRARY,
            description=done,
            metadata={
                "change": done,
                "people": len(listing),
                "voiceprints": sum(p["voiceprints"] for p in listing),
                "library_version": library.version(),
                # What `polsearch speakers list --url` reads.
                "library": dg.MetadataValue.json(listing),
            },
        )
    )


@dg.job(
    executor_def=in_process_owned,
    tags={"polsearch/trigger": "speaker-library"},
    description="Changes the voiceprint library (name a hearing speaker, forget a person); every hearing's "
    "speaker names and index rows then follow by automation.",
)
def speaker_library() -> None:
    change_speaker_library()


# What a library change re-runs for one hearing where no daemon runs automation (the local CLI).
speaker_names_refresh = dg.define_asset_job(
    "speaker_names_refresh",
    selection=dg.AssetSelection.assets("speaker_names", "hearing_index"),
    description="One hearing's speaker names and index rows, after a voiceprint library change.",
)
