"""Step retries that never retry an interrupt or a storage fault.

Dagster's ``RetryPolicy`` also retries a step whose run was terminated (its
``DagsterExecutionInterruptedError``), so a cancelled download started again. These
steps ask for their retries themselves instead (``RetryRequested``, which Dagster does
not give interrupts): an error the step may retry does, with the policy's backoff, and a
termination or Ctrl-C ends the step at once. A read-only, full or forbidden volume fails
the step at once too, its cause in one line (``core/errors.storage_fault``): waiting
seconds does not remount a disk or free space.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import dagster as dg

from polsearch_assets.core.errors import storage_fault_of


def retried(policy: dg.RetryPolicy) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Retry the asset body on any error except ``Failure(allow_retries=False)``, storage faults and
    interrupts."""

    def decorate(body: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(body)  # Dagster reads the body's parameters (context, config, resources)
        def run(context: dg.AssetExecutionContext, *args: Any, **kwargs: Any) -> Any:
            try:
                return body(context, *args, **kwargs)
            except dg.Failure as failure:
                if not failure.allow_retries:
                    raise
                raise _retry(policy, context) from failure
            except Exception as error:  # KeyboardInterrupt and Dagster's interrupt are not Exceptions
                if fault := storage_fault_of(error):
                    raise dg.Failure(description=fault, allow_retries=False) from error
                raise _retry(policy, context) from error

        return run

    return decorate


def _retry(policy: dg.RetryPolicy, context: dg.AssetExecutionContext) -> dg.RetryRequested:
    attempt = context.retry_number + 1
    return dg.RetryRequested(max_retries=policy.max_retries, seconds_to_wait=policy.calculate_delay(attempt))
