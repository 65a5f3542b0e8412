"""What the benchmarks share: where things are, the machine line, and long audio from the sample hearing."""

from __future__ import annotations

import os
import platform
import resource
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out"
SAMPLE = REPO / "samples" / "sample_hearing" / "sample_hearing.wav"


def machine() -> str:
    """The machine line of a result: CPU, cores, Python, and the load when the benchmark started (a run
    that shared its cores says so in its result)."""
    cpu = platform.machine()
    if Path("/proc/cpuinfo").exists():
        names = [
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ]
        cpu = names[0] if names else cpu
    load = f", load {os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else ""
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}{load}"


def peak_rss_mib(who: int = resource.RUSAGE_SELF) -> float:
    """Peak resident memory of this process (or, with RUSAGE_CHILDREN, its finished children) in MiB.

    For this process, Linux's VmHWM (the peak of this address space): ``ru_maxrss`` survives fork and
    exec, so a benchmark child started by a parent that once held gigabytes would report the parent's peak.
    """
    if who == resource.RUSAGE_SELF and Path("/proc/self/status").exists():
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(who).ru_maxrss / 1024


def looped_sample(path: Path, seconds: float) -> Path:
    """The sample hearing looped to ``seconds``, as a 16 kHz mono 16-bit WAV at ``path``."""
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-stream_loop", "-1", "-i", str(SAMPLE),
         "-t", str(seconds), "-ar", "16000", "-ac", "1", "-c:a", "pcm_s16le", str(path)],
        check=True,
    )  # fmt: skip
    return path
