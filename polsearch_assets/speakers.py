"""Named speakers from Python: name a hearing speaker, forget a person, list the library, show a hearing.

```python
from polsearch_assets import speakers

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
from polsearch_assets.core.artifacts import read_aligned_segments, read_diarization
from polsearch_assets.core.contracts import Cue
from polsearch_assets.core.index.voiceprints import people as people_of
from polsearch_assets.core.speakers.naming import find_cues, match_speakers, match_threshold
from polsearch_assets.defs.hearing.speakers import SpeakerLibraryError

if TYPE_CHECKING:
    import dagster as dg

__all__ = ["HearingSpeaker", "SpeakerLibraryError", "forget", "name", "people", "show"]


@dataclass(frozen=True)
class HearingSpeaker:
    """One speaker of a hearing as the library knows it now; ``suggestions``: names heard introduced just
    before it spoke, to confirm with ``name`` (never applied by themselves)."""

    speaker: str
    person: str | None
    person_id: str | None
    similarity: float | None
    speaking_ms: int
    candidate: str | None = None  # the closest person, below the threshold
    candidate_similarity: float | None = None
    suggestions: list[str] = field(default_factory=list)

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


def _change(
    change: dict[str, str], refresh: bool, settings: Settings | None, emit: Callable[[str], None]
) -> str:
    import dagster as dg

    from polsearch_assets.defs.hearing.registration import refresh_speaker_names
    from polsearch_assets.defs.platform.local_instance import local_instance

    definitions = _definitions(settings)
    instance = local_instance()
    result = definitions.resolve_job_def("speaker_library").execute_in_process(
        run_config={
            "ops": {"change_speaker_library": {"config": change}},
            "loggers": {"console": {"config": {"log_level": "WARNING"}}},
        },
        instance=instance,
        raise_on_error=False,
        tags={"polsearch/entrypoint": "cli-speakers"},
    )
    if not result.success:
        failure = next((e for e in result.all_events if e.is_step_failure), None)
        data = failure.event_specific_data if failure else None
        user = getattr(data, "user_failure_data", None)
        raise SpeakerLibraryError(user.description if user else "the speaker_library run failed")
    done = str(
        next(
            m.description
            for m in result.asset_materializations_for_node("change_speaker_library")
            if m.asset_key == dg.AssetKey("voiceprint_library")
        )
    )
    if refresh:
        refresh_speaker_names(instance, definitions.resolve_job_def("speaker_names_refresh"), emit)
    return done
