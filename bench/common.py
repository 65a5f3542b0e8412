"""What the benchmarks share: where things are, the machine line, and long audio from the sample hearing."""

from __future__ import annotations

import os
import platform
import resource
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out"
SAMPLE = REPO / "samples" / "sample_hearing" / "sample_hearing.wav"
BEFORE = "58bdd8b"  # main before the speaker count was measured per recording (issue 24)
CODE_VARIABLE = "POLSEARCH_BENCH_CODE"  # a folder whose polsearch_assets replaces this tree's


def use_revision_code() -> None:
    """Import ``polsearch_assets`` from the folder ``revision_env`` unpacked, when this process is the
    'before' system; call it before anything imports the package."""
    if os.environ.get(CODE_VARIABLE):
        sys.path.insert(0, os.environ[CODE_VARIABLE])


def revision_env(revision: str, work: Path) -> dict[str, str]:
    """This process's environment for a child that runs ``revision``'s ``polsearch_assets`` (unpacked from
    git under ``work``) with today's benchmark and test fixtures."""
    code = work / f"code-{revision}"
    code.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", revision, "polsearch_assets"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(code)], input=archive, check=True)
    return {**os.environ, CODE_VARIABLE: str(code)}


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


def cpu_s() -> float:
    """CPU seconds (user + system) of this process so far, all its threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


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
