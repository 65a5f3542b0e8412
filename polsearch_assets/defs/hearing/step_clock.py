"""Step timing in every hearing asset's materialization: wall time, and the real-time factor against the audio."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping
from typing import Any

import dagster as dg

from polsearch_assets.core.artifacts import audio_duration_ms


def step_timing(seconds: float, audio_ms: int | None) -> dict[str, dg.MetadataValue]:
    """``step_seconds``, and ``real_time_factor`` (audio seconds per wall second) when the audio length is known."""
    values = {"step_seconds": dg.MetadataValue.float(round(seconds, 3))}
    if audio_ms is not None:
        values["real_time_factor"] = dg.MetadataValue.float(
            round(audio_ms / 1000 / seconds, 1) if seconds > 0 else 0.0
        )
    return values


def timed(body: Callable[..., dg.MaterializeResult]) -> Callable[..., dg.MaterializeResult]:
    """Add the body's wall time and real-time factor to the metadata of the materialization it returns.

    The audio length is the hearing's, as raw_audio recorded it (read after the body, so raw_audio's own
    step has it too); a step of a hearing with no recorded audio gets ``step_seconds`` only.
    """

    @functools.wraps(body)  # Dagster reads the body's parameters (context, config, resources)
    def run(context: dg.AssetExecutionContext, *args: Any, **kwargs: Any) -> dg.MaterializeResult:
        started = time.perf_counter()
        result = body(context, *args, **kwargs)
        seconds = time.perf_counter() - started
        try:
            audio_ms: int | None = audio_duration_ms(kwargs["artifact_store"], context.partition_key)
        except FileNotFoundError:
            audio_ms = None
        timing = step_timing(seconds, audio_ms)
        context.log.info(
            f"hearing {context.partition_key}: {seconds:.1f} s"
            + (f", {timing['real_time_factor'].value:g}x real time" if "real_time_factor" in timing else "")
        )
        return _with_metadata(result, timing)

    return run


def _with_metadata(
    result: dg.MaterializeResult, extra: Mapping[str, dg.MetadataValue]
) -> dg.MaterializeResult:
    return dg.MaterializeResult(
        asset_key=result.asset_key,
        metadata={**(result.metadata or {}), **extra},
        check_results=result.check_results,
        data_version=result.data_version,
        tags=result.tags,
        value=result.value,
    )
