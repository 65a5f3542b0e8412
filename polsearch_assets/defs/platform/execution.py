"""How a run executes its steps, chosen by ``POLSEARCH_EXECUTOR``.

* ``in_process`` (default, the embedded profile): every step of a run in the run's own
  process, one after another. A hearing's steps are CPU-bound on the same cores anyway,
  models load once per run (on background threads, while earlier steps work), and a run
  costs one process start instead of one per step (see BENCHMARKS.md).
* ``multiprocess``: one process per step, ``POLSEARCH_MAX_CONCURRENT_STEPS`` at a time, for a
  bigger single machine.
* ``k8s``: one Kubernetes Job (pod) per step, launched from the run's pod (``K8sRunLauncher``,
  deploy/); each step's pod config comes from its op tags (``polsearch_assets.defs.platform.placement``), the
  image, secrets and namespace from the run launcher. ``POLSEARCH_MAX_CONCURRENT_STEPS`` steps
  of a run at a time; the ``gpu`` pool caps GPU steps across runs.
"""

from __future__ import annotations

import dagster as dg

from polsearch_assets.config import Settings


def configured_executor(settings: Settings) -> dg.ExecutorDefinition:
    """The executor chosen, recording each run's worker on the run (``defs/hearing/runs.owned_executor``)."""
    from polsearch_assets.defs.hearing.runs import owned_executor

    return owned_executor(_chosen_executor(settings))


def _chosen_executor(settings: Settings) -> dg.ExecutorDefinition:
    name = settings.executor
    if name == "in_process":
        return dg.in_process_executor
    if name == "multiprocess":
        return dg.multiprocess_executor.configured({"max_concurrent": settings.max_concurrent_steps or 2})
    from dagster_k8s import k8s_job_executor  # "k8s": Settings allows no other name

    return k8s_job_executor.configured(
        {"max_concurrent": settings.max_concurrent_steps or 4}, name="k8s_job_executor"
    )
