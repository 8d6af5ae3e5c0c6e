"""The local model learns from labelled examples: a linear classifier on their embeddings, mixed with
the zero-shot similarity so that labels without examples can still be chosen, and calibrated.

* classifier: ridge-regularized least squares onto one-hot labels (a linear classifier like logistic
  regression, fitted in closed form: as accurate in benchmarks/local_learning.py, 20-50x faster);
  its scores become probabilities by a softmax at temperature ``T``; labels without examples get 0;
* mixture: p = w * p_learned + (1 - w) * p_zero_shot;
* ``ridge``, ``T`` and ``w`` are chosen by k-fold cross-validation on the examples themselves
  (accuracy, ties broken by log loss), then a temperature ``tau`` on the out-of-fold mixtures
  calibrates ``confidence`` (least log loss). Folds are seeded: the same examples give the same model.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

METHOD = "ridge linear classifier on sentence embeddings, mixed with zero-shot similarity, temperature-calibrated"
MIN_FOR_CV = 4  # fewer examples than this: no cross-validation, the defaults below
DEFAULT_CHOICE = (1.0, 0.1, 0.5)  # (ridge, T, w) without cross-validation
TAUS = tuple(round(10 ** (i / 20), 4) for i in range(-20, 21))  # 0.1 … 10, log-spaced


@dataclass(frozen=True)
class LearnerSettings:
    """The grid cross-validation searches, and its folds."""

    ridges: tuple[float, ...] = (0.3, 1.0, 3.0)
    temperatures: tuple[float, ...] = (0.05, 0.1, 0.2)
    weights: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
    folds: int = 5
    seed: int = 0

    def record(self) -> dict[str, Any]:
        return {"ridges": list(self.ridges), "temperatures": list(self.temperatures), "weights": list(self.weights),
                "folds": self.folds, "seed": self.seed}


@dataclass
class LinearModel:
    """Centred ridge regression onto one-hot labels; classes without examples score -inf."""

    mean: Any
    weights: Any
    bias: Any
    present: Any

    @classmethod
    def fit(cls, vectors: Any, labels: Any, n_choices: int, ridge: float) -> LinearModel:
        import numpy as np

        x = np.asarray(vectors, dtype=np.float64)
        targets = np.zeros((len(x), n_choices))
        targets[np.arange(len(x)), labels] = 1.0
        mean, prior = x.mean(axis=0), targets.mean(axis=0)
        centred = x - mean
        gram = centred.T @ centred + ridge * np.eye(x.shape[1])
        weights = np.linalg.solve(gram, centred.T @ (targets - prior))
        return cls(mean, weights, prior, targets.sum(axis=0) > 0)

    def probabilities(self, vectors: Any, temperature: float) -> Any:
        import numpy as np

        scores = (np.asarray(vectors, dtype=np.float64) - self.mean) @ self.weights + self.bias
        scores[:, ~self.present] = -np.inf
        return softmax(scores / temperature)


@dataclass
class FittedLearner:
    """A fitted learner: ``predict`` gives calibrated probabilities over all choices."""

    model: LinearModel
    ridge: float
    temperature: float
    weight: float
    tau: float
    n_examples: int
    n_labels: int
    cv: dict[str, Any] = field(default_factory=dict)

    def predict(self, vectors: Any, zero_shot: Any) -> Any:
        """(items x choices) probabilities from the items' vectors and their zero-shot probabilities."""
        mixed = self.weight * self.model.probabilities(vectors, self.temperature) + (1 - self.weight) * zero_shot
        return sharpen(mixed, self.tau)

    def record(self) -> dict[str, Any]:
        return {"method": METHOD, "examples": self.n_examples, "labels_with_examples": self.n_labels,
                "ridge": self.ridge, "temperature": self.temperature, "learned_weight": self.weight,
                "calibration_tau": self.tau, "cross_validation": self.cv}


def fit_learner(vectors: Any, labels: Sequence[int] | np.ndarray, zero_shot: Any,
                settings: LearnerSettings | None = None) -> FittedLearner:
    """Fit on the examples' vectors, their choice indexes and their zero-shot probabilities (examples x choices)."""
    import numpy as np

    settings = settings or LearnerSettings()
    y = np.asarray(labels, dtype=np.int64)
    zero_shot = np.asarray(zero_shot, dtype=np.float64)
    n_choices = zero_shot.shape[1]
    ridge, temperature, weight = DEFAULT_CHOICE
    tau, cv = 1.0, dict[str, Any](used=False)
    if len(y) >= MIN_FOR_CV:
        folds = _folds(len(y), min(settings.folds, len(y)), settings.seed)
        best: tuple[float, float] | None = None
        best_mix = None
        for r in settings.ridges:
            learned = {t: np.zeros_like(zero_shot) for t in settings.temperatures}
            for train, held in folds:
                model = LinearModel.fit(vectors[train], y[train], n_choices, r)
                for t in settings.temperatures:
                    learned[t][held] = model.probabilities(vectors[held], t)
            for t in settings.temperatures:
                for w in settings.weights:
                    mixed = w * learned[t] + (1 - w) * zero_shot
                    score = (accuracy(mixed, y), -log_loss(mixed, y))
                    if best is None or score > best:
                        best, best_mix, (ridge, temperature, weight) = score, mixed, (r, t, w)
        assert best is not None  # the grid is never empty
        tau = min(TAUS, key=lambda candidate: log_loss(sharpen(best_mix, candidate), y))
        cv = {"used": True, "folds": len(folds), "accuracy": round(best[0], 6),
              "zero_shot_accuracy": round(accuracy(zero_shot, y), 6),
              "log_loss": round(log_loss(sharpen(best_mix, tau), y), 6)}
    model = LinearModel.fit(vectors, y, n_choices, ridge)
    return FittedLearner(model, ridge, temperature, weight, tau, len(y), int(model.present.sum()), cv)


def _folds(n: int, k: int, seed: int) -> list[tuple[Any, Any]]:
    import numpy as np

    order = np.random.RandomState(seed).permutation(n)
    parts = np.array_split(order, k)
    return [(np.sort(np.concatenate(parts[:i] + parts[i + 1:])), np.sort(part)) for i, part in enumerate(parts)]


def softmax(scores: Any) -> Any:
    import numpy as np

    scores = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(scores)
    return exp / exp.sum(axis=1, keepdims=True)


def sharpen(probabilities: Any, tau: float) -> Any:
    """Temperature scaling of probabilities: p^(1/tau), renormalized."""
    import numpy as np

    with np.errstate(divide="ignore"):
        return softmax(np.log(probabilities) / tau)


def accuracy(probabilities: Any, labels: Any) -> float:
    return float((probabilities.argmax(axis=1) == labels).mean())


def log_loss(probabilities: Any, labels: Any) -> float:
    import numpy as np

    picked = probabilities[np.arange(len(labels)), labels]
    return float(-np.mean(np.log(np.maximum(picked, 1e-12))))


def expected_calibration_error(probabilities: Any, labels: Any, bins: int = 10) -> float:
    """Mean |accuracy - confidence| over equal-width confidence bins, weighted by bin size."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    total = 0.0
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        inside = (confidence > low) & (confidence <= high) if b else (confidence <= high)
        if inside.any():
            total += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(total) if not math.isnan(total) else 0.0
