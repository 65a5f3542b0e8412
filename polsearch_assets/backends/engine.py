"""What every model engine is: plain Python (no Dagster), built from the settings, named by its model identity."""

from __future__ import annotations

from abc import ABC, abstractmethod

from pydantic import BaseModel, ConfigDict

from polsearch_assets.config import FromSettings


class Engine(FromSettings, BaseModel, ABC):
    """One implementation of a model stage; its ``setting(...)`` fields come from ``Settings`` (``from_settings``).

    Engines are immutable values: the loaded models live in ``loading.shared_model``'s process-wide cache, so
    two engines with the same settings share one model.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    @property
    @abstractmethod
    def model_identity(self) -> str:
        """Everything that changes the engine's output; part of its asset's code version."""

    def load(self) -> None:
        """Load the model now, so that a missing model fails before a step's work (nothing to load by default)."""
