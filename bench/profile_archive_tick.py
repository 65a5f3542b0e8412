"""CPU profile of the automation tick after one hearing changed, on an archive of bench_archive.py.

    .venv/bin/python bench/profile_archive_tick.py postgres 30000     # the archive must be built already

Runs ``bench_archive.ticks`` (first tick, no change, one hearing's ``raw_audio`` re-materialized) in this
process and profiles the third evaluation only (``cProfile`` with a CPU clock), and times every SQL
statement of that tick (wall, by the statement's first words). Prints the tick's CPU and wall seconds, the
statements, and the functions with the most cumulative CPU; the profile goes to
bench/out/profile-tick-<storage>-<N>.prof (``python -m pstats`` reads it).
"""

from __future__ import annotations

import cProfile
import os
import pstats
import sys
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import bench_archive  # noqa: E402
from bench.common import OUT  # noqa: E402


def main() -> None:
    storage, n = sys.argv[1], int(sys.argv[2])
    home = bench_archive.CACHE / f"{storage}-{n}"
    if not (home / bench_archive.BUILT).exists():
        raise SystemExit(f"no archive at {home}: build it with bench_archive.py first")
    os.environ.update(bench_archive.archive_env(home))

    import dagster as dg
    import sqlalchemy as sa

    statements: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    profiling = [False]

    def before(conn, cursor, statement, params, context, executemany) -> None:  # SQLAlchemy event
        conn.info.setdefault("started", []).append(time.perf_counter())

    def after(conn, cursor, statement, params, context, executemany) -> None:
        took = time.perf_counter() - conn.info["started"].pop()
        if profiling[0]:
            found = statements[" ".join(statement.split()[:6])[:90]]
            found[0] += 1
            found[1] += took

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", before)
    sa.event.listen(sa.engine.Engine, "after_cursor_execute", after)
    evaluate_tick, calls = dg.SensorDefinition.evaluate_tick, [0]
    out = OUT / f"profile-tick-{storage}-{n}.prof"

    def profiled(self, context):
        calls[0] += 1
        if calls[0] != 3:  # first, no change, then the one-changed tick
            return evaluate_tick(self, context)
        profile = cProfile.Profile(time.process_time)
        profiling[0], cpu, wall = True, time.process_time(), time.perf_counter()
        profile.enable()
        try:
            return evaluate_tick(self, context)
        finally:
            profile.disable()
            profiling[0] = False
            print(
                f"one-changed tick: {time.process_time() - cpu:.2f} CPU s, {time.perf_counter() - wall:.2f} s wall"
            )
            profile.dump_stats(out)

    dg.SensorDefinition.evaluate_tick = profiled
    bench_archive.ticks(n, bench_archive.TEMPLATES + int(time.time()) % (n - bench_archive.TEMPLATES))
    rows = sorted(statements.items(), key=lambda item: -item[1][1])
    print(
        f"{sum(c for c, _ in statements.values()):.0f} statements, {sum(t for _, t in statements.values()):.2f} s"
    )
    for text, (count, took) in rows[:15]:
        print(f"{count:5.0f} {took:7.3f} s  {text}")
    pstats.Stats(str(out)).sort_stats("cumulative").print_stats(40)


if __name__ == "__main__":
    main()
