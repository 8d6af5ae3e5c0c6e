"""Labelled examples: few-shot selection for LLM prompts (knn, random, fixed) with a leakage guard."""

from labnb.fewshot.examples import Example, ExampleSet, normalized_text
from labnb.fewshot.selection import METHODS, Leakage, ShotSelector, ShotSettings

__all__ = ["METHODS", "Example", "ExampleSet", "Leakage", "ShotSelector", "ShotSettings", "normalized_text"]
