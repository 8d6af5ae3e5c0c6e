"""Running a task: the run folder, the call loop, finalizing, resume, replay, dry runs and batch APIs."""
