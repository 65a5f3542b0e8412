"""Scratch files that name the process writing them, so a later writer removes what a killed one left.

A process killed mid-write (``kill -9``, an OOM kill, a lost machine) cannot clean up after
itself: its partial download or half-written artifact stays. Every scratch name here holds
the writer's pid; the next writer in the same place removes entries whose process is gone.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def process_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this machine (whoever owns it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def abandoned(directory: Path, prefix: str) -> list[Path]:
    """``<prefix><pid>…`` entries of ``directory`` whose process no longer exists."""
    try:
        entries = list(directory.iterdir())
    except FileNotFoundError:
        return []
    found = []
    for entry in entries:
        if not entry.name.startswith(prefix):
            continue
        digits = entry.name[len(prefix) :].split(".", 1)[0].split("-", 1)[0]
        if digits.isdigit() and not process_alive(int(digits)):
            found.append(entry)
    return found


def remove_abandoned(directory: Path, prefix: str) -> list[Path]:
    """Remove what ``abandoned`` finds."""
    removed = abandoned(directory, prefix)
    for entry in removed:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
    return removed


def temp_beside(final: Path) -> Path:
    """A hidden temp name beside ``final`` (same directory: the rename into place is atomic);
    leftovers of killed writers of the same file are removed first."""
    prefix = f".{final.name}."
    remove_abandoned(final.parent, prefix)
    return final.with_name(f"{prefix}{os.getpid()}.{uuid.uuid4().hex}.tmp")


@contextmanager
def scratch_dir(prefix: str) -> Iterator[Path]:
    """A temporary directory, removed afterwards; ones left by killed processes are removed first."""
    parent = Path(tempfile.gettempdir())
    remove_abandoned(parent, prefix)
    path = Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=parent))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
