"""What a run writes: the run folder, its lock and status, logs, call records, results, provenance."""
