"""Pick the classifier for a model entry; the local model's heavy imports happen only here, lazily."""

from __future__ import annotations

from assign_cat.classifier import Classifier
from assign_cat.plan import Plan


def create_classifier(plan: Plan) -> Classifier:
    if plan.entry.provider == "local":
        from assign_cat.embedding_classifier import EmbeddingClassifier

        return EmbeddingClassifier(plan.entry, plan.taxonomy)
    from assign_cat.llm_classifier import LLMClassifier

    return LLMClassifier(plan.entry, plan.taxonomy, explain=plan.options.explain)
