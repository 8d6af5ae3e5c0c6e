"""Parts a task composes instead of writing them: a prompt from a prompt file, scores of one answer column."""
