"""Experiments: a grid of ordinary runs from one YAML spec, a leaderboard with error bars, a CI gate, MLflow."""
