"""Cut a hearing's speech into chunks of bounded length for the model stages.

Chunks cover every detected speech region exactly once, on the hearing's global
timeline (ms). A chunk is cut inside a silence: among the silences of at least
``min_silence_ms`` that reach into the allowed window ``[start + min, start + max]``,
the longest wins, ties going to the one nearest the window's middle, and the cut
is placed at the point of that silence nearest the middle. Chunks are trimmed
to their speech, so the silence a cut falls in belongs to no chunk and long
recesses are skipped instead of being fed to a model. With no silence in the
window (continuous speech), the chunk is cut hard at ``start + max``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from polsearch_assets.core.contracts import Chunk, SpeechRegion


@dataclass(frozen=True)
class _Silence:
    start_ms: int
    end_ms: int

    @property
    def length_ms(self) -> int:
        return self.end_ms - self.start_ms


def _merge(regions: Sequence[SpeechRegion], min_silence_ms: int) -> list[SpeechRegion]:
    """Sort, and join regions separated by less than ``min_silence_ms`` (not a usable cut)."""
    merged: list[SpeechRegion] = []
    for region in sorted((r for r in regions if r.end_ms > r.start_ms), key=lambda r: r.start_ms):
        if merged and region.start_ms - merged[-1].end_ms < min_silence_ms:
            last = merged[-1]
            merged[-1] = SpeechRegion(last.start_ms, max(last.end_ms, region.end_ms))
        else:
            merged.append(region)
    return merged


def _cut_point(silences: Sequence[_Silence], lo: int, hi: int) -> int | None:
    """Where to cut in ``[lo, hi]``: the longest silence reaching in, nearest the middle."""
    middle = (lo + hi) / 2
    candidates = [s for s in silences if s.end_ms >= lo and s.start_ms <= hi]
    if not candidates:
        return None

    def nearest_point(s: _Silence) -> float:
        return min(max(middle, max(s.start_ms, lo)), min(s.end_ms, hi))

    best = max(candidates, key=lambda s: (s.length_ms, -abs(nearest_point(s) - middle)))
    return round(nearest_point(best))


def chunk_speech(
    regions: Sequence[SpeechRegion],
    duration_ms: int,
    *,
    min_chunk_ms: int = 25_000,
    max_chunk_ms: int = 60_000,
    min_silence_ms: int = 100,
) -> list[Chunk]:
    """Split speech regions into ordered, non-overlapping chunks of at most ``max_chunk_ms``.

    A chunk is shorter than ``min_chunk_ms`` only when the speech ends or a
    silence reaching past ``start + min_chunk_ms`` follows it.
    """
    if not 0 < min_chunk_ms <= max_chunk_ms:
        raise ValueError(f"need 0 < min_chunk_ms <= max_chunk_ms, got {min_chunk_ms} and {max_chunk_ms}")
    clipped = [SpeechRegion(max(0, r.start_ms), min(duration_ms, r.end_ms)) for r in regions]
    speech = _merge(clipped, min_silence_ms)
    silences = [_Silence(a.end_ms, b.start_ms) for a, b in pairwise(speech)]
    chunks: list[Chunk] = []
    region_index = 0  # first region that ends after the cursor
    cursor = speech[0].start_ms if speech else 0
    while region_index < len(speech):
        cursor = max(cursor, speech[region_index].start_ms)  # skip the silence after a cut
        speech_end = speech[-1].end_ms
        if speech_end - cursor <= max_chunk_ms:
            cut = speech_end
        else:
            found = _cut_point(silences[region_index:], cursor + min_chunk_ms, cursor + max_chunk_ms)
            cut = cursor + max_chunk_ms if found is None else found
        inside: list[SpeechRegion] = []
        while region_index < len(speech) and speech[region_index].start_ms < cut:
            region = speech[region_index]
            inside.append(SpeechRegion(max(region.start_ms, cursor), min(region.end_ms, cut)))
            if region.end_ms > cut:  # a hard cut through speech: the rest starts the next chunk
                break
            region_index += 1
        chunks.append(Chunk(len(chunks), inside[0].start_ms, inside[-1].end_ms, tuple(inside)))
        cursor = cut
    return chunks


def undecoded_rest(piece: Chunk, decoded_until_ms: int, min_speech_ms: int) -> Chunk | None:
    """The part of ``piece`` after ``decoded_until_ms`` as a piece of its own, when it holds at least
    ``min_speech_ms`` of speech (a piece without speech regions counts as speech throughout)."""
    speech = piece.speech or (SpeechRegion(piece.start_ms, piece.end_ms),)
    rest = tuple(
        SpeechRegion(max(r.start_ms, decoded_until_ms), r.end_ms)
        for r in speech
        if r.end_ms > decoded_until_ms
    )
    if sum(r.end_ms - r.start_ms for r in rest) < min_speech_ms:
        return None
    return Chunk(piece.index, rest[0].start_ms, rest[-1].end_ms, rest)


def split_chunks(chunks: Sequence[Chunk], max_ms: int) -> list[Chunk]:
    """Chunks as pieces a model takes whole (at most ``max_ms``), longer ones split in their own pauses."""
    pieces: list[Chunk] = []
    for chunk in chunks:
        if chunk.duration_ms <= max_ms:
            pieces.append(chunk)
        else:
            pieces += chunk_speech(chunk.speech, chunk.end_ms, min_chunk_ms=max_ms // 2, max_chunk_ms=max_ms)
    return pieces
