"""How Dagster sees the model stages: one thin resource per stage around its engine (``backends/<stage>/``).

A resource is its engine's registered name and the engine's settings as JSON, so the UI shows both and any
process (a run worker, a Kubernetes step pod) rebuilds the same engine from them. The engine itself knows
nothing of Dagster.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import ClassVar, Self

import dagster as dg
from pydantic import Field

from polsearch_assets.backends.asr.base import Transcriber
from polsearch_assets.backends.asr.registry import TRANSCRIBERS
from polsearch_assets.backends.diarization.base import Diarizer
from polsearch_assets.backends.diarization.registry import DIARIZERS
from polsearch_assets.backends.embedding.base import TextEmbedder
from polsearch_assets.backends.embedding.registry import EMBEDDERS
from polsearch_assets.backends.engine import Engine
from polsearch_assets.backends.vad.base import SpeechDetector
from polsearch_assets.backends.vad.registry import SPEECH_DETECTORS


class EngineResource(dg.ConfigurableResource):
    """A model stage's engine, by its name in the stage's registry and its settings."""

    registry: ClassVar[Mapping[str, type[Engine]]]

    backend: str = Field(description="The engine's name in its stage's registry (POLSEARCH_*_BACKEND).")
    options: str = Field(description="The engine's settings as JSON, taken from the polsearch settings.")

    @classmethod
    def of(cls, engine: Engine) -> Self:
        (name,) = [name for name, engine_class in cls.registry.items() if engine_class is type(engine)]
        return cls(backend=name, options=engine.model_dump_json())

    @cached_property
    def _engine(self) -> Engine:
        return self.registry[self.backend].model_validate_json(self.options)

    @property
    def model_identity(self) -> str:
        return self._engine.model_identity

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._engine.load()  # a missing model fails here, before the step's work


class SpeechDetectorResource(EngineResource):
    registry = SPEECH_DETECTORS

    @property
    def engine(self) -> SpeechDetector:
        assert isinstance(self._engine, SpeechDetector)
        return self._engine


class TranscriberResource(EngineResource):
    registry = TRANSCRIBERS

    @property
    def engine(self) -> Transcriber:
        assert isinstance(self._engine, Transcriber)
        return self._engine


class DiarizerResource(EngineResource):
    registry = DIARIZERS

    @property
    def engine(self) -> Diarizer:
        assert isinstance(self._engine, Diarizer)
        return self._engine


class TextEmbedderResource(EngineResource):
    registry = EMBEDDERS

    @property
    def engine(self) -> TextEmbedder:
        assert isinstance(self._engine, TextEmbedder)
        return self._engine
