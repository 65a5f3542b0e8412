"""The GraphQL documents the client sends, one ``.graphql`` file each in ``documents/`` (also usable
from other languages). Documents that launch runs share the ``Launched`` fragment."""

from __future__ import annotations

from pathlib import Path

_DOCUMENTS = Path(__file__).parent / "documents"
_FRAGMENTS = "fragment_"


def _load() -> dict[str, str]:
    fragments = {
        path.stem.removeprefix(_FRAGMENTS): path.read_text()
        for path in _DOCUMENTS.glob(f"{_FRAGMENTS}*.graphql")
    }
    documents = {}
    for path in sorted(_DOCUMENTS.glob("*.graphql")):
        if path.stem.startswith(_FRAGMENTS):
            continue
        text = path.read_text()
        used = [body for name, body in fragments.items() if f"...{name.capitalize()}" in text]
        documents[path.stem] = text + "".join(used)
    return documents


GRAPHQL: dict[str, str] = _load()
