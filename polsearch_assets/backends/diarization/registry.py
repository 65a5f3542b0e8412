"""The diarization engines by the name ``POLSEARCH_DIARIZATION_BACKEND`` gives them: a new engine is one line here."""

from __future__ import annotations

from polsearch_assets.backends.diarization.base import Diarizer
from polsearch_assets.backends.diarization.campplus import CamppDiarizer
from polsearch_assets.backends.diarization.resemblyzer import ResemblyzerDiarizer
from polsearch_assets.backends.diarization.sortformer import SortformerDiarizer

DIARIZERS: dict[str, type[Diarizer]] = {
    "campplus": CamppDiarizer,
    "resemblyzer": ResemblyzerDiarizer,
    "sortformer": SortformerDiarizer,
}
