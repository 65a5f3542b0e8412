"""Step timing for materialization metadata: wall time, and the real-time factor against the audio."""

import time

import dagster as dg


class StepClock:
    def __init__(self) -> None:
        self.started = time.perf_counter()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def metadata(self, audio_ms: int | None = None) -> dict[str, dg.MetadataValue]:
        """``step_seconds``, and ``real_time_factor`` (audio seconds per wall second) when the audio length is given."""
        elapsed = self.elapsed
        values = {"step_seconds": dg.MetadataValue.float(round(elapsed, 3))}
        if audio_ms is not None:
            values["real_time_factor"] = dg.MetadataValue.float(
                round(audio_ms / 1000 / elapsed, 1) if elapsed > 0 else 0.0
            )
        return values
