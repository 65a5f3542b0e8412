"""One switch, POLSEARCH_PROFILE, selects every stage's backend; switching marks hearings stale."""

from __future__ import annotations

import pytest

from polsearch_assets.resources.fastembed_embedder import FastEmbedEmbedder
from polsearch_assets.resources.nemo_backends import NemoTdtTranscriber, SortformerDiarizer

from .conftest import backends_from_env
from .processes import json_from_fresh_interpreter

_CODE_VERSIONS = """
import json
from polsearch_assets.jobs import HEARING_ASSETS
print(json.dumps({a.key.to_user_string(): a.code_versions_by_key[a.key] for a in HEARING_ASSETS}))
"""


def code_versions(**env: str) -> dict[str, str]:
    """The hearing assets' code versions as a code location loaded with ``env`` sees them."""
    return json_from_fresh_interpreter(
        _CODE_VERSIONS, env, ("POLSEARCH_PROFILE", "POLSEARCH_ASR", "POLSEARCH_DIAR", "POLSEARCH_EMBEDDING")
    )


def test_the_production_profile_selects_every_production_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    backends = backends_from_env(monkeypatch, POLSEARCH_PROFILE="production")
    assert isinstance(backends.transcriber, NemoTdtTranscriber)
    assert isinstance(backends.diarizer, SortformerDiarizer)
    assert isinstance(backends.embedder, FastEmbedEmbedder)
    one_stage = backends_from_env(
        monkeypatch, POLSEARCH_PROFILE="production", POLSEARCH_EMBEDDING_BACKEND="sentence-transformers"
    )
    assert not isinstance(one_stage.embedder, FastEmbedEmbedder)  # a stage's own variable still wins


def test_an_unknown_profile_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(
        ValueError,
        match="POLSEARCH_PROFILE='gpu' is not a known profile; choose one of: embedded, production",
    ):
        backends_from_env(monkeypatch, POLSEARCH_PROFILE="gpu")


def test_switching_profile_marks_the_model_stages_stale() -> None:
    embedded, production = code_versions(), code_versions(POLSEARCH_PROFILE="production")
    changed = {name for name in embedded if embedded[name] != production[name]}
    assert changed == {"transcript", "diarization", "hearing_index"}
    assert "parakeet-tdt-0.6b-v2" in production["transcript"]
    assert "diar_streaming_sortformer_4spk-v2" in production["diarization"]
