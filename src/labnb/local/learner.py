"""The local model learns from labelled examples: a linear classifier on their embeddings and lexical
features, mixed with the zero-shot similarity so that labels without examples can still be chosen, and calibrated.

* features (``labnb.local.features``): the sentence embedding, and TF-IDF word 1-2 grams and character 3-5
  grams fitted on the example texts;
* classifier, chosen by cross-validation with its setting: multinomial logistic regression (scikit-learn, lbfgs)
  on all three blocks (its cost ``C``), or ridge least squares onto one-hot labels on the embeddings alone (its
  ridge, and a softmax temperature ``T`` for its scores; on a few dozen examples of free text, such as reviews,
  the n-grams are mostly noise and this one wins); labels without examples get probability 0. With
  ``lexical=False`` only the ridge candidate: the learner before lexical features, kept for comparison;
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
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

from labnb.errors import ConfigError
from labnb.local.features import LexicalFeatures

METHOD = ("logistic regression on sentence embeddings + TF-IDF word and character n-grams, mixed with zero-shot "
          "similarity, temperature-calibrated")
RIDGE_METHOD = "ridge linear classifier on sentence embeddings, mixed with zero-shot similarity, temperature-calibrated"
MIN_FOR_CV = 4  # fewer examples than this: no cross-validation, the defaults below
DEFAULT_CHOICE = (1.0, 0.1, 0.5)  # (ridge, T, w) without cross-validation
DEFAULT_COST = 10.0  # C without cross-validation
MAX_ITER = 200
TOLERANCE = 1e-3  # lbfgs stops here: accuracy as at 1e-4 in benchmarks/local_learning.py, half the steps
LARGE, LARGE_FOLDS = 1000, 3  # more examples than LARGE: 3 folds (keeps 5,000 examples within seconds)
TAUS = tuple(round(10 ** (i / 20), 4) for i in range(-20, 21))  # 0.1 … 10, log-spaced


LEARN_INSTALL = "pip install -r requirements-learn.txt, or pip install 'llm-lab-notebook[learn]'"


def require_scikit_learn() -> None:
    """Learning from examples runs on scikit-learn (TF-IDF, logistic regression), an optional install of 150 MB with
    SciPy; the zero-shot local model does not need it. Missing: a ConfigError that says what to install."""
    try:
        import sklearn  # noqa: F401  (the learner imports it anyway)
    except ImportError:
        raise ConfigError("the local model learns from --examples with scikit-learn, which is not installed "
                          f"(zero-shot runs do not need it): {LEARN_INSTALL}") from None


@dataclass(frozen=True)
class LearnerSettings:
    """The grid cross-validation searches, and its folds."""

    ridges: tuple[float, ...] = (0.3, 1.0, 3.0)
    temperatures: tuple[float, ...] = (0.05, 0.1, 0.2)
    weights: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
    costs: tuple[float, ...] = (10.0, 30.0)  # ascending: each fit starts from the previous one
    folds: int = 5
    seed: int = 0
    lexical: bool = True

    def record(self) -> dict[str, Any]:
        costs = {"costs": list(self.costs)} if self.lexical else {}
        return {"ridges": list(self.ridges), "temperatures": list(self.temperatures), **costs,
                "weights": list(self.weights), "folds": self.folds, "folds_above_1000_examples": LARGE_FOLDS,
                "seed": self.seed, "lexical": self.lexical}


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

    @classmethod
    def path(cls, vectors: Any, labels: Any, n_choices: int, ridges: Sequence[float]) -> list[LinearModel]:
        return [cls.fit(vectors, labels, n_choices, ridge) for ridge in ridges]

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
    def path(cls, features: Any, labels: Any, n_choices: int, costs: Sequence[float]) -> list[LogisticModel]:
        """One model per cost, in the given order, each fit starting from the previous one's coefficients
        (fewer steps than from zero; still deterministic)."""
        import copy

        import numpy as np
        from sklearn.linear_model import LogisticRegression

        classes = np.unique(labels)
        if len(classes) == 1:
            return [cls(classes, None, n_choices) for _ in costs]
        model = LogisticRegression(max_iter=MAX_ITER, tol=TOLERANCE, warm_start=True)
        models = []
        for cost in costs:
            with warnings.catch_warnings():  # not converging in MAX_ITER steps is still a deterministic fit
                warnings.simplefilter("ignore")
                model.set_params(C=cost).fit(features, labels)
            models.append(cls(classes, copy.deepcopy(model), n_choices))
        return models

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
    lexical: LexicalFeatures | None = None  # fitted on the examples and cross-validated, whichever model won

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
        """Method, features (every block fitted, with vocabulary sizes and sha256), the blocks the chosen model
        reads, its settings, cross-validation, and the sha256 of its coefficients."""
        embedding = {"embedding": {"kind": "sentence embedding", "size": self.embedding_dim}}
        features = self.lexical.record(self.embedding_dim) if self.lexical is not None else embedding
        if self.features is None:
            method, chosen = RIDGE_METHOD, {"ridge": self.setting, "temperature": self.temperature,
                                            "model_reads": ["embedding"]}
        else:
            method, chosen = METHOD, {"classifier": "sklearn.linear_model.LogisticRegression (lbfgs, multinomial)",
                                      "C": self.setting, "model_reads": sorted(features)}
        return {"method": method, "examples": self.n_examples, "labels_with_examples": self.n_labels, **chosen,
                "features": features,
                "learned_weight": self.weight, "calibration_tau": self.tau, "cross_validation": self.cv,
                "model_sha256": self.model.sha256()}


def fit_learner(vectors: Any, labels: Sequence[int] | np.ndarray, zero_shot: Any,
                settings: LearnerSettings | None = None, texts: Sequence[str] | None = None) -> FittedLearner:
    """Fit on the examples' vectors, their choice indexes, their zero-shot probabilities (examples x choices)
    and their texts (for the lexical features; without texts, or with ``settings.lexical`` False, the
    embeddings-only ridge learner)."""

    from threadpoolctl import threadpool_limits  # scikit-learn's own dependency

    # One BLAS thread: these matrices are small, spinning threads only burn a shared machine's cores, and a fixed
    # thread count keeps the sums in one order, so a replay on another machine rebuilds the same model.
    with threadpool_limits(limits=1, user_api="blas"):
        return _fit(vectors, labels, zero_shot, settings or LearnerSettings(), texts)


def _fit(vectors: Any, labels: Sequence[int] | np.ndarray, zero_shot: Any, settings: LearnerSettings,
         texts: Sequence[str] | None) -> FittedLearner:
    import numpy as np

    y = np.asarray(labels, dtype=np.int64)
    zero_shot = np.asarray(zero_shot, dtype=np.float64)
    vectors = np.asarray(vectors)
    n_choices = zero_shot.shape[1]
    lexical = LexicalFeatures.fit(texts) if settings.lexical and texts is not None else None
    # The candidates cross-validation chooses among: ridge on the embeddings (one setting per ridge x temperature)
    # and, with texts, logistic regression on embeddings + lexical features (one per cost).
    kinds: list[tuple[Any, LexicalFeatures | None, Sequence[float], Sequence[float], Any]] = [
        (LinearModel.path, None, settings.ridges, settings.temperatures, vectors)]
    if lexical is not None:
        assert texts is not None  # lexical features are fitted on texts only
        kinds.append((LogisticModel.path, lexical, settings.costs, (1.0,), lexical.transform(vectors, texts)))
    path, features, _, _, x = kinds[-1]
    setting, temperature, weight = (DEFAULT_COST, 1.0, DEFAULT_CHOICE[2]) if features is not None else DEFAULT_CHOICE
    # Examples of one label only: the learned part gives that label to everything (and is always right on the
    # examples, so cross-validation would trust it fully); it says nothing about the other labels: zero-shot decides.
    one_label = len(np.unique(y)) < 2
    weights, weight = ((0.0,), 0.0) if one_label else (settings.weights, weight)
    tau, cv = 1.0, dict[str, Any](used=False)
    if len(y) >= MIN_FOR_CV:
        k = settings.folds if len(y) <= LARGE else min(settings.folds, LARGE_FOLDS)
        folds = _folds(len(y), min(k, len(y)), settings.seed)
        best: tuple[float, float] | None = None
        best_mix = None
        for kind in kinds:
            kind_path, kind_features, values, temperatures, kind_x = kind
            learned = {(v, t): np.zeros_like(zero_shot) for v in values for t in temperatures}
            for train, held in folds:
                for value, model in zip(values, kind_path(kind_x[train], y[train], n_choices, values)):
                    for t in temperatures:
                        learned[value, t][held] = model.probabilities(kind_x[held], t)
            for (value, t), probabilities in learned.items():
                for w in weights:
                    mixed = w * probabilities + (1 - w) * zero_shot
                    score = (accuracy(mixed, y), -log_loss(mixed, y))
                    if best is None or score > best:
                        best, best_mix, (setting, temperature, weight) = score, mixed, (value, t, w)
                        path, features, x = kind_path, kind_features, kind_x
        assert best is not None
        tau = min(TAUS, key=lambda candidate: log_loss(sharpen(best_mix, candidate), y))
        cv = {"used": True, "folds": len(folds), "accuracy": round(best[0], 6),
              "zero_shot_accuracy": round(accuracy(zero_shot, y), 6),
              "log_loss": round(log_loss(sharpen(best_mix, tau), y), 6),
              "candidates": [RIDGE_METHOD.split(",")[0]] + ([METHOD.split(",")[0]] if lexical is not None else [])}
    model = path(x, y, n_choices, (setting,))[0]
    return FittedLearner(model, features, setting, temperature, weight, tau, len(y), int(model.present.sum()),
                         vectors.shape[1], cv, lexical)


def learned_from(record: dict[str, Any]) -> dict[str, Any]:
    """The part of a learner's record that says what it learned from (for ``prompt_templates.json``): the method,
    each feature block with its vocabulary size and sha256, and the fitted model's sha256."""
    return {key: record[key] for key in ("method", "features", "model_reads", "examples", "model_sha256")
            if key in record}


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
