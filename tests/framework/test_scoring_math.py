"""labnb.scoring's confusion counts, precision/recall/F1 and Cohen's kappa equal scikit-learn's own (the oracle,
installed with requirements-dev.txt), on random labellings with failed rows, unseen classes and row weights."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score, confusion_matrix, f1_score, precision_recall_fscore_support

from labnb import scoring

LABELS = ["alpha", "beta", "gamma", "delta", scoring.NONE_LABEL]


def labellings(seed: int) -> tuple[pd.Series, pd.Series, np.ndarray | None, list[str]]:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    gold = pd.Series(rng.choice(LABELS[:4], n), dtype=str)
    pred = pd.Series(rng.choice(LABELS, n, p=[0.3, 0.2, 0.2, 0.1, 0.2]), dtype=str)
    weight = rng.integers(1, 9, n) if seed % 2 else None
    return gold, pred, weight, scoring.labels(gold, pred)


@pytest.mark.parametrize("seed", range(40))
def test_scores_equal_scikit_learns(seed: int) -> None:
    gold, pred, weight, classes = labellings(seed)
    for average in ("macro", "weighted"):
        expected = f1_score(gold, pred, labels=classes, average=average, zero_division=0, sample_weight=weight)
        assert scoring.f1(gold, pred, classes, average, weight) == round(float(expected), scoring.DIGITS)
    prec, rec, f1s, support = precision_recall_fscore_support(gold, pred, labels=classes, zero_division=0,
                                                              sample_weight=weight)
    ours = scoring.precision_recall_f1(gold, pred, classes, weight)
    for mine, theirs in zip(ours, (prec, rec, f1s, support)):
        np.testing.assert_allclose(mine, theirs, rtol=0, atol=1e-12)
    columns = [*classes, scoring.NONE_LABEL]
    np.testing.assert_array_equal(scoring.confusion_counts(gold, pred, columns, weight),
                                  confusion_matrix(gold, pred, labels=columns, sample_weight=weight))


@pytest.mark.parametrize("seed", range(40))
def test_kappa_equals_scikit_learns(seed: int) -> None:
    gold, pred, _, _ = labellings(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = float(cohen_kappa_score(list(gold), list(pred)))
    mine = scoring.cohen_kappa(list(gold), list(pred))
    assert (mine is None) if math.isnan(expected) else mine == pytest.approx(expected, abs=1e-12)


def test_kappa_undefined_and_known_values() -> None:
    assert scoring.cohen_kappa(["a", "a"], ["a", "a"]) is None  # one shared label: chance agreement is 1
    assert scoring.cohen_kappa([], []) is None
    assert scoring.cohen_kappa(["a", "b"], ["a", "b"]) == 1.0
    assert scoring.cohen_kappa(["a", "b"], ["b", "a"]) == -1.0
    # 10 items, both raters say "a" 5 times (chance agreement 0.5): 8 agree gives 0.6, 6 agree gives 0.2
    a = list("aaaaabbbbb")
    b = list("aaaabbbbba")
    assert scoring.cohen_kappa(a, b) == pytest.approx(0.6)
    assert scoring.cohen_kappa(list("aaaaabbbbb"), list("aaabbbbaab")) == pytest.approx(0.2)


def test_weighted_lines_count_as_their_rows() -> None:
    """A line of weight 3 scores as three identical lines."""
    gold, pred = pd.Series(["a", "b", "b"]), pd.Series(["a", "a", scoring.NONE_LABEL])
    expanded_gold, expanded_pred = pd.Series(["a", "b", "b", "b", "b"]), pd.Series(["a", "a", "a", "a", "(none)"])
    classes = ["a", "b"]
    assert scoring.f1(gold, pred, classes, "macro", np.array([1, 3, 1])) == scoring.f1(
        expanded_gold, expanded_pred, classes, "macro")
    assert scoring.confusion_counts(gold, pred, classes, np.array([1, 3, 1])).tolist() == [[1, 0], [3, 0]]
