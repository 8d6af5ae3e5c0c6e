"""Post-run analysis: load run folders into pandas, compare runs, write an HTML report."""

from labnb.analysis.runs import RunNotFound, load_run, load_runs, resolve_run

__all__ = ["RunNotFound", "load_run", "load_runs", "resolve_run"]
