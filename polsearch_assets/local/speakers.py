"""Named speakers from Python: name a hearing speaker, forget a person, list the library, show a hearing.

```python
from polsearch_assets.local import speakers

speakers.name("file-0583d86f33ce", "SPEAKER_3", "Sen. Maria Cantwell", person_id="C000127")
speakers.show("file-0583d86f33ce")  # each speaker: person, similarity, speaking time, suggestions
```

``name`` and ``forget`` run the ``speaker_library`` job in this process, against the local Dagster
instance (``DAGSTER_HOME``, default ``$POLSEARCH_HOME/dagster``), so the change is recorded as on a
deployment; then, since no daemon runs here, they bring every ingested hearing's ``speaker_names`` and
index rows up to date themselves (``refresh=False`` leaves that to a running daemon's automation).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from polsearch_assets.config import Settings
from polsearch_assets.core.artifacts import read_aligned_segments, read_diarization, read_speaker_names
from polsearch_assets.core.contracts import Cue
from polsearch_assets.core.index.voiceprints import people as people_of
from polsearch_assets.core.speakers.naming import find_cues, match_speakers, match_threshold
from polsearch_assets.defs.hearing.naming import SpeakerLibraryError

if TYPE_CHECKING:
    import dagster as dg

__all__ = ["HearingSpeaker", "SpeakerLibraryError", "check", "forget", "name", "people", "refresh", "show"]


@dataclass(frozen=True)
class HearingSpeaker:
    """One speaker of a hearing as the library knows it now; ``suggestions``: names heard introduced just
    before it spoke, to confirm with ``name`` (never applied by themselves)."""

    speaker: str
    person: str | None
    person_id: str | None
    similarity: float | None
    speaking_ms: int
    candidate: str | None = None  # the closest person, below the threshold or refused (``mixed``)
    candidate_similarity: float | None = None
    suggestions: list[str] = field(default_factory=list)
    mixed: bool = False  # part of its speech is unlike ``candidate``: two people in one speaker

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _definitions(settings: Settings | None) -> dg.Definitions:
    from polsearch_assets.definitions import build_definitions, defs

    return defs if settings is None else build_definitions(settings)


def show(hearing: str, *, settings: Settings | None = None) -> list[HearingSpeaker]:
    """Each speaker of ``hearing`` matched against the library as it is now, by speaking time."""
    definitions = _definitions(settings)
    store = definitions.resources["artifact_store"]
    matching = definitions.resources["speaker_matching"]
    try:
        diarization = read_diarization(store, hearing, with_frames=False)
    except FileNotFoundError:
        raise SpeakerLibraryError(f"hearing {hearing} has no diarization; ingest it first") from None
    threshold = match_threshold(diarization.voice_encoder, matching.threshold)
    voiceprints = definitions.resources["lance_index"].library().voiceprints()
    names = match_speakers(
        diarization.voices, voiceprints, diarization.voice_encoder, threshold, diarization.turns
    )
    try:
        cues: list[Cue] = find_cues(read_aligned_segments(store, hearing))
    except FileNotFoundError:  # diarized but not aligned yet: no transcript to hear introductions in
        cues = []
    talk = diarization.speaking_ms()
    by_speaker = {n.speaker: n for n in names}
    found = []
    for label in diarization.speakers:
        match = by_speaker.get(label)
        found.append(
            HearingSpeaker(
                speaker=label,
                person=match.person if match else None,
                person_id=match.person_id if match else None,
                similarity=match.similarity if match and match.person else None,
                speaking_ms=talk.get(label, 0),
                candidate=match.candidate if match else None,
                candidate_similarity=match.similarity if match and not match.person else None,
                suggestions=[c.name for c in cues if c.speaker == label],
                mixed=bool(match and match.mixed),
            )
        )
    return sorted(found, key=lambda s: -s.speaking_ms)


def people(*, settings: Settings | None = None) -> list[dict[str, Any]]:
    """The library by person: ``person``, ``person_id``, ``role``, ``party``, ``state``, ``voiceprints``,
    ``hearings``."""
    return people_of(_definitions(settings).resources["lance_index"].library().rows())


def name(
    hearing: str,
    speaker: str,
    person: str,
    *,
    person_id: str | None = None,
    role: str | None = None,
    party: str | None = None,
    state: str | None = None,
    refresh: bool = True,
    settings: Settings | None = None,
    emit: Callable[[str], None] = print,
) -> str:
    """Enrol ``speaker``'s voice (of ``hearing``) as ``person``; what was done. Raises SpeakerLibraryError."""
    change = {
        "action": "name",
        "hearing": hearing,
        "speaker": speaker,
        "person": person,
        "person_id": person_id or "",
        "role": role or "",
        "party": party or "",
        "state": state or "",
    }
    return _change(change, refresh, settings, emit)


def forget(
    person: str,
    *,
    refresh: bool = True,
    settings: Settings | None = None,
    emit: Callable[[str], None] = print,
) -> str:
    """Remove every voiceprint of ``person`` (name or id); what was done. Raises SpeakerLibraryError."""
    return _change({"action": "forget", "person": person}, refresh, settings, emit)


def check(*, settings: Settings | None = None) -> list[str]:
    """Where the library and the hearings disagree (empty: nowhere): for each hearing with a diarization,
    the names the library gives its speakers now, the names its ``speaker_names`` recorded (and the library
    version it read) and the names its index rows carry must be the same."""
    from polsearch_assets.defs.hearing.partitions import hearings_partitions
    from polsearch_assets.local.instance import local_instance

    definitions = _definitions(settings)
    store = definitions.resources["artifact_store"]
    lance = definitions.resources["lance_index"]
    matching = definitions.resources["speaker_matching"]
    version, voiceprints = lance.library().snapshot()
    index = lance.open()
    found = []
    for key in sorted(local_instance().get_dynamic_partitions(hearings_partitions.name)):
        try:
            diarization = read_diarization(store, key, with_frames=False)
        except FileNotFoundError:
            continue  # not diarized yet: nothing to name
        threshold = match_threshold(diarization.voice_encoder, matching.threshold)
        matched = match_speakers(diarization.voices, voiceprints, diarization.voice_encoder, threshold)
        expected = {n.speaker: n.person for n in matched if n.person}
        try:
            names = read_speaker_names(store, key)
        except FileNotFoundError:
            found.append(f"hearing {key}: no speaker_names")
            continue
        recorded = {label: n.person for label, n in names.named().items()}
        if names.library_version != version:
            found.append(
                f"hearing {key}: speaker_names read library version {names.library_version}, not {version}"
            )
        if recorded != expected:
            found.append(f"hearing {key}: speaker_names has {recorded}, the library says {expected}")
        rows = index.rows(key)
        indexed = {
            r["speaker_label"]: r["speaker_name"] for r in rows if r["speaker_name"] != r["speaker_label"]
        }
        wanted = {
            label: person
            for label, person in expected.items()
            if any(r["speaker_label"] == label for r in rows)
        }
        if indexed != wanted:
            found.append(f"hearing {key}: index rows name {indexed}, the library says {wanted}")
    return found


def refresh(*, settings: Settings | None = None, emit: Callable[[str], None] = print) -> list[str]:
    """Bring every hearing's ``speaker_names`` and index rows up to the library's current version (what
    ``name`` and ``forget`` do after their change): hearings behind it are refreshed, hearings another
    process or run works on are waited for. The hearings refreshed."""
    from polsearch_assets.local.instance import local_instance

    return _refresh(
        local_instance(), _definitions(settings), emit, (settings or Settings.from_env()).dagster_location
    )


def _refresh(
    instance: dg.DagsterInstance, definitions: dg.Definitions, emit: Callable[[str], None], location_name: str
) -> list[str]:
    from polsearch_assets.local.runs import refresh_speaker_names

    library = definitions.resources["lance_index"].library()
    return refresh_speaker_names(
        instance,
        definitions,
        definitions.resources["artifact_store"],
        library.version,
        location_name=location_name,
        emit=emit,
    )


def _change(
    change: dict[str, str], refresh_names: bool, settings: Settings | None, emit: Callable[[str], None]
) -> str:
    import dagster as dg

    from polsearch_assets.defs.hearing.name_refresh import run_failure
    from polsearch_assets.defs.hearing.runs import owner_tags
    from polsearch_assets.local.instance import local_instance
    from polsearch_assets.local.runs import execute_locally

    definitions = _definitions(settings)
    location_name = (settings or Settings.from_env()).dagster_location
    instance = local_instance()
    result = execute_locally(
        instance,
        definitions,
        "speaker_library",
        location_name=location_name,
        run_config={
            "ops": {"change_speaker_library": {"config": change}},
            "loggers": {"console": {"config": {"log_level": "WARNING"}}},
        },
        tags={"polsearch/entrypoint": "cli-speakers", **owner_tags()},
    )
    if not result.success:
        raise SpeakerLibraryError(
            run_failure(instance, result.run_id).removeprefix("[change_speaker_library] ")
        )
    done = str(
        next(
            m.description
            for m in result.asset_materializations_for_node("change_speaker_library")
            if m.asset_key == dg.AssetKey("voiceprint_library")
        )
    )
    if refresh_names:
        _refresh(instance, definitions, emit, location_name)
    return done
