"""Deep-taxonomy metrics, exactly, on a hand-built 3-level taxonomy."""

import pytest

from assign_cat.deep_metrics import deep_metrics
from assign_cat.taxonomy import load_deep

THREE_LEVELS = """1 - A
2 - A > A1
3 - A > A1 > A1a
4 - A > A1 > A1b
5 - A > A2
6 - B
7 - B > B1
8 - B > B1 > B1a
"""
ROWS = [
    {"product_id": "p1", "status": "ok", "subcategory": "3", "expected_subcategory": "3"},
    {"product_id": "p2", "status": "ok", "subcategory": "3", "expected_subcategory": "A > A1 > A1b"},
    {"product_id": "p3", "status": "ok", "subcategory": "2", "expected_subcategory": "5"},
    {"product_id": "p4", "status": "error", "subcategory": "", "expected_subcategory": "b > b1"},
    {"product_id": "p5", "status": "not_run", "subcategory": "", "expected_subcategory": "8"},
    {"product_id": "p6", "status": "ok", "subcategory": "1", "expected_subcategory": "Z > nope"},
    {"product_id": "p7", "status": "ok", "subcategory": "1", "expected_subcategory": ""},
]
CANDIDATES = {"p1": ["3", "4"], "p2": ["3", "2"], "p3": ["5"], "p4": ["8"], "p6": ["1"]}


@pytest.fixture
def taxonomy(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text(THREE_LEVELS)
    return load_deep(path)


def test_whole_taxonomy(taxonomy):
    # Ancestor sets (gold / predicted, overlap): p1 {1,2,3}/{1,2,3} 3; p2 {1,2,4}/{1,2,3} 2;
    # p3 {1,5}/{1,2} 1; p4 {6,7}/{} 0  ->  P = 6/8, R = 6/10, F1 = 12/18.
    assert deep_metrics(ROWS, taxonomy, candidates=CANDIDATES, k=2) == {
        "node_accuracy": 0.2, "n_node_correct": 1, "n_deep_scored": 5, "n_gold_unresolved": 1,
        "n_gold_outside_root": 0,
        "level_accuracy": {"1": 0.75, "2": 0.5, "3": 0.5}, "level_support": {"1": 4, "2": 4, "3": 2},
        "hierarchical_precision": 0.75, "hierarchical_recall": 0.6, "hierarchical_f1": 0.666667,
        # p1 and p3 hold their gold node; p2 holds A1, on its gold's path; p4 only a child of its gold
        "retrieval": {"k": 2, "n": 4, "recall_at_k": 0.75, "exact_recall_at_k": 0.5},
    }


def test_levels_and_ancestors_count_from_the_subtree_root(taxonomy):
    # Under root A: p1 (2,3)/(2,3) 2; p2 (2,4)/(2,3) 1; p3 (5)/(2) 0; p4 outside: (6,7)/() 0.
    metrics = deep_metrics(ROWS, taxonomy.restrict("A"))
    assert metrics == {
        "node_accuracy": 0.2, "n_node_correct": 1, "n_deep_scored": 5, "n_gold_unresolved": 1,
        "n_gold_outside_root": 1,
        "level_accuracy": {"1": 0.5, "2": 0.333333}, "level_support": {"1": 4, "2": 3},
        "hierarchical_precision": 0.6, "hierarchical_recall": 0.428571, "hierarchical_f1": 0.5,
    }


def test_no_gold_gives_undefined_scores(taxonomy):
    metrics = deep_metrics([{"product_id": "p", "status": "ok", "subcategory": "1"}], taxonomy, candidates={}, k=30)
    assert metrics["node_accuracy"] is None and metrics["hierarchical_f1"] is None
    assert metrics["level_accuracy"] == {"1": None, "2": None, "3": None}
    assert metrics["retrieval"] == {"k": 30, "n": 0, "recall_at_k": None, "exact_recall_at_k": None}
