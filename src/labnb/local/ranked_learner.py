"""The local model learning from examples over thousands of choices ranked by a retrieval index.

``labnb.local.learner`` fits one-hot targets over every choice; with thousands of choices, most of them without a
single example, each item is instead scored over its own columns:

* the choices that have examples (the same columns for every item), then
* its ``OTHERS`` best-scoring choices without examples (by the index's zero-shot score), best first.

The zero-shot probabilities are the softmax of the index's scores at ``TEMPERATURE`` over those columns; the
learned part only has the choices with examples; mixture, cross-validation and calibration are
``labnb.local.learner``'s, and so are the features (embeddings and TF-IDF n-grams of the texts). So a choice
without examples still wins when the item is near it and far from every
choice with examples, and with w = 0 the answer is the zero-shot one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from labnb.local.learner import FittedLearner, LearnerSettings, fit_learner, softmax
from labnb.local.retrieval import best

OTHERS = 30  # choices without examples each item is also scored over
TEMPERATURE = 0.05  # all-MiniLM-L6-v2 was trained with scale 20 = 1 / 0.05
DECIMALS = 6  # probabilities are rounded before ranking, so ties break by pool position on every machine


def item_columns(scores: Any, labelled: Any, others: int) -> Any:
    """(items x columns) pool positions: the labelled choices, then each item's ``others`` best others."""
    import numpy as np

    free = np.setdiff1d(np.arange(scores.shape[1]), labelled)
    nearest = free[np.stack(best(scores[:, free], others))] if len(free) and others else np.zeros(
        (len(scores), 0), dtype=np.int64)
    return np.hstack([np.broadcast_to(labelled, (len(scores), len(labelled))), nearest])


def zero_shot(scores: Any, columns: Any) -> Any:
    """Softmax of the items' scores at ``TEMPERATURE`` over their own columns."""
    import numpy as np

    return softmax(np.take_along_axis(scores, columns, axis=1).astype("float64") / TEMPERATURE)


@dataclass
class RankedLearner:
    """A learner fitted over ``labelled`` (pool positions with examples) plus each item's nearest others."""

    fitted: FittedLearner
    labelled: Any
    others: int

    def top(self, vectors: Any, scores: Any, k: int,
            texts: Sequence[str] | None = None) -> list[list[tuple[int, float]]]:
        """Per item, its ``k`` most probable pool positions with their calibrated probabilities, best first (``texts``:
        the items' texts, which a learner with lexical features reads too)."""
        columns = item_columns(scores, self.labelled, self.others)
        probabilities = self.fitted.predict(vectors, zero_shot(scores, columns), texts)
        out = []
        for row, where in zip(probabilities, columns):
            ranked = sorted(zip(where.tolist(), (round(float(p), DECIMALS) for p in row)), key=lambda x: (-x[1], x[0]))
            out.append(ranked[:k])
        return out

    def record(self) -> dict[str, Any]:
        return {**self.fitted.record(), "columns": f"the {len(self.labelled)} choices with examples + each item's "
                f"{self.others} best-scoring others", "zero_shot_temperature": TEMPERATURE}


def fit_ranked(vectors: Any, positions: Sequence[int], scores: Any, settings: LearnerSettings | None = None, *,
               others: int = OTHERS, texts: Sequence[str] | None = None) -> RankedLearner:
    """Fit on the examples' vectors, the pool position of each one's label, their scores (examples x pool) and
    their texts (the lexical features, as ``labnb.local.learner.fit_learner``)."""
    import numpy as np

    labelled = np.unique(np.asarray(positions, dtype=np.int64))
    others = min(others, scores.shape[1] - len(labelled))
    columns = item_columns(scores, labelled, others)
    labels = np.searchsorted(labelled, np.asarray(positions, dtype=np.int64))
    return RankedLearner(fit_learner(vectors, labels, zero_shot(scores, columns), settings, texts), labelled, others)
