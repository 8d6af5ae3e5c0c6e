"""The local model learns from labelled examples: a linear classifier on their embeddings and lexical
features, mixed with the zero-shot similarity so that labels without examples can still be chosen, and calibrated.

* features (``labnb.local.features``): the sentence embedding, and TF-IDF word 1-2 grams and character 3-5
  grams fitted on the example texts;
* classifier: multinomial logistic regression (scikit-learn, lbfgs) on all three blocks, its cost ``C`` chosen
  by cross-validation; labels without examples get probability 0. With ``lexical=False`` (the learner before
  lexical features, kept for comparison): ridge least squares onto one-hot labels on the embeddings alone, its
  scores turned into probabilities by a softmax at temperature ``T``;
* mixture: p = w * p_learned + (1 - w) * p_zero_shot;
* the classifier's setting and ``w`` are chosen by k-fold cross-validation on the examples themselves
  (accuracy, ties broken by log loss), then a temperature ``tau`` on the out-of-fold mixtures
  calibrates ``confidence`` (least log loss). Folds are seeded and every step is deterministic: the same
  examples give the same model, bit for bit.
"""

from __future__ import annotations

import hashlib
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from labnb.local.features import LexicalFeatures

METHOD = ("logistic regression on sentence embeddings + TF-IDF word and character n-grams, mixed with zero-shot "
          "similarity, temperature-calibrated")
RIDGE_METHOD = "ridge linear classifier on sentence embeddings, mixed with zero-shot similarity, temperature-calibrated"
MIN_FOR_CV = 4  # fewer examples than this: no cross-validation, the defaults below
DEFAULT_CHOICE = (1.0, 0.1, 0.5)  # (ridge, T, w) without cross-validation
DEFAULT_COST = 10.0  # C without cross-validation
MAX_ITER = 500
TAUS = tuple(round(10 ** (i / 20), 4) for i in range(-20, 21))  # 0.1 … 10, log-spaced


@dataclass(frozen=True)
class LearnerSettings:
    """The grid cross-validation searches, and its folds."""

    ridges: tuple[float, ...] = (0.3, 1.0, 3.0)
    temperatures: tuple[float, ...] = (0.05, 0.1, 0.2)
    weights: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
    costs: tuple[float, ...] = (3.0, 10.0, 30.0)
    folds: int = 5
    seed: int = 0
    lexical: bool = True

    def record(self) -> dict[str, Any]:
        grid = {"costs": list(self.costs)} if self.lexical else {
            "ridges": list(self.ridges), "temperatures": list(self.temperatures)}
        return {**grid, "weights": list(self.weights), "folds": self.folds, "seed": self.seed,
                "lexical": self.lexical}


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

    def sha256(self) -> str:
        return _sha256(self.mean, self.weights, self.bias)


@dataclass
class LogisticModel:
    """Multinomial logistic regression over the choices with examples; the others get probability 0."""

    classes: Any  # the choices with examples, ascending
    model: Any  # a fitted LogisticRegression; None with a single label, which then gets every item
    n_choices: int

    @classmethod
    def fit(cls, features: Any, labels: Any, n_choices: int, cost: float) -> LogisticModel:
        import numpy as np
        from sklearn.linear_model import LogisticRegression

        classes = np.unique(labels)
        if len(classes) == 1:
            return cls(classes, None, n_choices)
        model = LogisticRegression(C=cost, max_iter=MAX_ITER, tol=1e-6)
        with warnings.catch_warnings():  # not converging to 1e-6 in MAX_ITER steps is still a deterministic fit
            warnings.simplefilter("ignore")
            model.fit(features, labels)
        return cls(classes, model, n_choices)

    def probabilities(self, features: Any, temperature: float = 1.0) -> Any:
        import numpy as np

        out = np.zeros((features.shape[0], self.n_choices))
        out[:, self.classes] = self.model.predict_proba(features) if self.model is not None else 1.0
        return out

    @property
    def present(self) -> Any:
        import numpy as np

        present = np.zeros(self.n_choices, dtype=bool)
        present[self.classes] = True
        return present

    def sha256(self) -> str:
        if self.model is None:
            return _sha256(self.classes)
        return _sha256(self.classes, self.model.coef_, self.model.intercept_)


@dataclass
class FittedLearner:
    """A fitted learner: ``predict`` gives calibrated probabilities over all choices."""

    model: LinearModel | LogisticModel
    features: LexicalFeatures | None
    setting: float  # ridge (embeddings only) or C (with lexical features)
    temperature: float
    weight: float
    tau: float
    n_examples: int
    n_labels: int
    embedding_dim: int
    cv: dict[str, Any] = field(default_factory=dict)

    def predict(self, vectors: Any, zero_shot: Any, texts: Sequence[str] | None = None) -> Any:
        """(items x choices) probabilities from the items' vectors, their zero-shot probabilities and (with lexical
        features) their texts."""
        if self.features is not None:
            if texts is None:
                raise ValueError("this learner reads the items' texts too")
            vectors = self.features.transform(vectors, texts)
        mixed = self.weight * self.model.probabilities(vectors, self.temperature) + (1 - self.weight) * zero_shot
        return sharpen(mixed, self.tau)

    def record(self) -> dict[str, Any]:
        if self.features is None:
            method, chosen = RIDGE_METHOD, {"ridge": self.setting, "temperature": self.temperature,
                                            "features": {"embedding": {"kind": "sentence embedding",
                                                                       "size": self.embedding_dim}}}
        else:
            method, chosen = METHOD, {"classifier": "sklearn.linear_model.LogisticRegression (lbfgs, multinomial)",
                                      "C": self.setting, "features": self.features.record(self.embedding_dim)}
        return {"method": method, "examples": self.n_examples, "labels_with_examples": self.n_labels, **chosen,
                "learned_weight": self.weight, "calibration_tau": self.tau, "cross_validation": self.cv,
                "model_sha256": self.model.sha256()}


def fit_learner(vectors: Any, labels: Sequence[int], zero_shot: Any, settings: LearnerSettings | None = None,
                texts: Sequence[str] | None = None) -> FittedLearner:
    """Fit on the examples' vectors, their choice indexes, their zero-shot probabilities (examples x choices)
    and their texts (for the lexical features; without texts, or with ``settings.lexical`` False, the
    embeddings-only ridge learner)."""
    import numpy as np

    settings = settings or LearnerSettings()
    y = np.asarray(labels, dtype=np.int64)
    zero_shot = np.asarray(zero_shot, dtype=np.float64)
    vectors = np.asarray(vectors)
    n_choices = zero_shot.shape[1]
    features = LexicalFeatures.fit(texts) if settings.lexical and texts is not None else None
    x = features.transform(vectors, texts) if features is not None else vectors
    # Candidates: (setting, temperature) pairs of the chosen model kind, each fitted per fold.
    if features is not None:
        candidates = [(c, (1.0,)) for c in settings.costs]
        fit = LogisticModel.fit
        setting, temperature, weight = DEFAULT_COST, 1.0, DEFAULT_CHOICE[2]
    else:
        candidates = [(r, settings.temperatures) for r in settings.ridges]
        fit = LinearModel.fit  # type: ignore[assignment]
        setting, temperature, weight = DEFAULT_CHOICE
    tau, cv = 1.0, {"used": False}
    if len(y) >= MIN_FOR_CV:
        folds = _folds(len(y), min(settings.folds, len(y)), settings.seed)
        best: tuple[float, float] | None = None
        best_mix = None
        for value, temperatures in candidates:
            learned = {t: np.zeros_like(zero_shot) for t in temperatures}
            for train, held in folds:
                model = fit(x[train], y[train], n_choices, value)
                for t in temperatures:
                    learned[t][held] = model.probabilities(x[held], t)
            for t in temperatures:
                for w in settings.weights:
                    mixed = w * learned[t] + (1 - w) * zero_shot
                    score = (accuracy(mixed, y), -log_loss(mixed, y))
                    if best is None or score > best:
                        best, best_mix, (setting, temperature, weight) = score, mixed, (value, t, w)
        assert best is not None
        tau = min(TAUS, key=lambda candidate: log_loss(sharpen(best_mix, candidate), y))
        cv = {"used": True, "folds": len(folds), "accuracy": round(best[0], 6),
              "zero_shot_accuracy": round(accuracy(zero_shot, y), 6),
              "log_loss": round(log_loss(sharpen(best_mix, tau), y), 6)}
    model = fit(x, y, n_choices, setting)
    return FittedLearner(model, features, setting, temperature, weight, tau, len(y), int(model.present.sum()),
                         vectors.shape[1], cv)


def learned_from(record: dict[str, Any]) -> dict[str, Any]:
    """The part of a learner's record that says what it learned from (for ``prompt_templates.json``): the method,
    each feature block with its vocabulary size and sha256, and the fitted model's sha256."""
    return {key: record[key] for key in ("method", "features", "examples", "model_sha256") if key in record}


def _sha256(*arrays: Any) -> str:
    import numpy as np

    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(array, dtype="<f8").tobytes())
    return digest.hexdigest()


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
