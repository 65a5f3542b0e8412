"""Audio retention: which intermediate audio artifacts of an indexed hearing may go.

The normalized WAV (and chunk audio, for backends that write it) is by far the largest
artifact of a hearing and can be fetched again from the source; transcripts,
diarization, aligned segments and the word archive are the results and stay.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from polsearch_assets.resources.artifacts import ArtifactInfo

INTERMEDIATE_AUDIO = ("raw_audio.wav",)
INTERMEDIATE_AUDIO_FOLDERS = ("chunks/",)


def is_intermediate_audio(name: str) -> bool:
    return name in INTERMEDIATE_AUDIO or name.startswith(INTERMEDIATE_AUDIO_FOLDERS)


def artifacts_to_prune(artifacts: Sequence[ArtifactInfo], cutoff: datetime) -> tuple[ArtifactInfo, ...]:
    """Intermediate audio last written before ``cutoff``."""
    return tuple(a for a in artifacts if is_intermediate_audio(a.name) and a.modified < cutoff)
