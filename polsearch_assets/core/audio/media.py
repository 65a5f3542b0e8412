"""A hearing's recording as audio: ffprobe/ffmpeg to inspect and normalize it (getting it is the source
kind's part, ``core/sources/``).

Errors are classified for the orchestrator: a TransientMediaError is worth
retrying (HTTP 5xx/429, timeouts, dropped connections); a PermanentMediaError is
not (404, private or removed video, not audio, empty or missing file, out of
the allowed duration range).
"""

from __future__ import annotations

import ctypes
import json
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

TARGET_SAMPLE_RATE = 16_000
TARGET_CHANNELS = 1
_STDERR_TAIL = 600
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


class MediaError(Exception):
    """Base class: the message says what went wrong with the source."""


class TransientMediaError(MediaError):
    """Worth retrying later: the source may work then."""


class PermanentMediaError(MediaError):
    """Retrying will not help: the source itself is unusable."""


@dataclass(frozen=True)
class MediaInfo:
    duration_s: float
    sample_rate: int
    channels: int
    codec: str
    container: str


def human_duration(seconds: float) -> str:
    """``5400`` -> ``1 h 30 min``; ``98.5`` -> ``1 min 38 s``; ``2.25`` -> ``2.2 s``."""
    if seconds >= 3600:
        hours, rest = divmod(round(seconds), 3600)
        return f"{hours} h {rest // 60:02d} min"
    if seconds >= 60:
        minutes, rest = divmod(round(seconds), 60)
        return f"{minutes} min {rest:02d} s"
    return f"{seconds:.1f} s"


def _tail(text: str) -> str:
    text = text.strip()
    return text if len(text) <= _STDERR_TAIL else "..." + text[-_STDERR_TAIL:]


def _die_with_parent() -> None:
    """In the child, before exec: the kernel kills it when the process that started it dies (Linux),
    so a killed run never leaves an ffmpeg decoding hours of audio behind."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def run_tool(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    """Run ffmpeg/ffprobe; an interrupt (run terminated, Ctrl-C) kills the child before it propagates."""
    return subprocess.run(cmd, capture_output=True, text=True, check=False, preexec_fn=_die_with_parent)


def probe(path: Path) -> MediaInfo:
    """Duration and first audio stream of a media file; PermanentMediaError if it has no audio."""
    if not path.is_file():
        raise PermanentMediaError(f"file not found: {path}")
    if path.stat().st_size == 0:
        raise PermanentMediaError(f"file is empty: {path}")
    cmd = ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)]
    proc = run_tool(cmd)
    if proc.returncode != 0:
        raise PermanentMediaError(f"not a media file ffmpeg can read: {path.name}: {_tail(proc.stderr)}")
    data = json.loads(proc.stdout or "{}")
    audio = [s for s in data.get("streams", []) if s.get("codec_type") == "audio"]
    if not audio:
        raise PermanentMediaError(f"no audio stream in {path.name}")
    stream, fmt = audio[0], data.get("format", {})
    duration = stream.get("duration") or fmt.get("duration")
    return MediaInfo(
        duration_s=float(duration) if duration not in (None, "N/A") else 0.0,
        sample_rate=int(stream.get("sample_rate") or 0),
        channels=int(stream.get("channels") or 0),
        codec=str(stream.get("codec_name") or "unknown"),
        container=str(fmt.get("format_name") or "unknown"),
    )


def normalize_to_wav(source: Path, target: Path) -> None:
    """Decode any ffmpeg-readable media to 16 kHz mono 16-bit PCM WAV (streamed, bounded memory)."""
    cmd = [
        "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
        "-i", str(source),
        "-map", "0:a:0", "-vn", "-sn", "-dn",
        "-ac", str(TARGET_CHANNELS), "-ar", str(TARGET_SAMPLE_RATE), "-c:a", "pcm_s16le",
        "-f", "wav", str(target),
    ]  # fmt: skip
    proc = run_tool(cmd)
    if proc.returncode != 0:
        raise PermanentMediaError(f"ffmpeg could not decode the audio of {source.name}: {_tail(proc.stderr)}")
