"""`bakegen bench`: real builds of the generated bake file, scenario by scenario, measured.

    scenarios  the scenarios as objects, registered in one list (what each changes, its budgets, its run)
    changes    the harmless changes they make to the repository, each undone whatever happens
    budgets    how fast each must be, and the verdicts
    results    what a run found (plain data)
    report     results as tables, JSON, Markdown, a chart
    runner     the real builds on a builder the bench may empty (the engine's side)
    baseline   the same scenarios as a repository without bakegen builds them
    api        the bench as one call: `run_bench(BenchRequest(...))`

Nothing here is imported by bakegen/run (the bench builds on it, never the reverse); importing
this package loads no engine client (the runner is imported when a bench runs).
"""

from bakegen.bench.api import BenchOutcome, BenchRequest, run_bench

__all__ = ["BenchOutcome", "BenchRequest", "run_bench"]
