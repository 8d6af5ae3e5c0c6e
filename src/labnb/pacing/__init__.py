"""How fast requests go: rate limits, concurrency, the executor, the budget."""
