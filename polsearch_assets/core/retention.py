"""Audio retention: which intermediate audio artifacts of an indexed hearing may go.

The normalized WAV is by far the largest artifact of a hearing and can be fetched again
from the source; transcripts, diarization, aligned segments and the word archive are the
results and stay.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from polsearch_assets.core.artifacts import INTERMEDIATE_AUDIO, ArtifactInfo


def artifacts_to_prune(artifacts: Sequence[ArtifactInfo], cutoff: datetime) -> tuple[ArtifactInfo, ...]:
    """Intermediate audio last written before ``cutoff``."""
    return tuple(a for a in artifacts if a.name in INTERMEDIATE_AUDIO and a.modified < cutoff)
