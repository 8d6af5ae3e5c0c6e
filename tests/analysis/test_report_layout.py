"""analyze_runs.py report: no empty charts, no one-bar histograms, honest words when runs share nothing."""

from __future__ import annotations

from test_analyze import make_run

from labnb.analysis.report import write_report


def test_runs_sharing_no_product_are_not_said_to_agree(tmp_path):
    a = make_run(tmp_path, "run-a", [("p1", "Whey", "a/a1", "a/a1")], cost=0.0)
    b = make_run(tmp_path, "run-b", [("p2", "Zinc", "b/b1", "b/b1")], cost=0.0)
    html = write_report([a, b], tmp_path / "r.html").read_text()
    assert "The runs share no product: there is nothing to compare." in html
    assert "agree on every product" not in html


def test_zero_cost_runs_show_accuracy_not_an_empty_cost_chart_and_one_call_is_words_not_a_bar(tmp_path):
    answers = [("p1", "Whey", "a/a1", "a/a1"), ("p2", "Zinc", "b/b1", "a/a1")]  # one call of two products
    a = make_run(tmp_path, "run-a", answers, cost=0.0)
    b = make_run(tmp_path, "run-b", [*answers[:1], ("p2", "Zinc", "a/a1", "a/a1")], cost=0.0)
    html = write_report([a, b], tmp_path / "r.html").read_text()
    assert "Every run cost $0.000000, so cost says nothing: accuracy alone is shown." in html
    assert 'alt="accuracy by run"' in html and 'alt="cost vs accuracy"' not in html
    assert "Too few calls for a histogram: mini #1: 1 call (100 ms)." in html
    assert "Too few calls for a histogram: mini #2: 1 call (100 ms)." in html and 'alt="latency"' not in html
    assert "The runs agree" not in html  # p2 differs: listed instead


def test_a_paid_run_beside_a_free_one_plots_cost_with_both_points_and_the_agreeing_note(tmp_path):
    answers = [(f"p{i}", f"t{i}", "a/a1", "a/a1") for i in range(10)]  # five calls of two: enough for a histogram
    a = make_run(tmp_path, "run-a", answers, cost=0.0)
    b = make_run(tmp_path, "run-b", answers, cost=0.02)
    html = write_report([a, b], tmp_path / "r.html").read_text()
    assert 'alt="cost vs accuracy"' in html and 'alt="latency"' in html and "Too few calls" not in html
    assert "The runs agree on every product they share." in html


def test_without_matplotlib_the_report_keeps_its_tables_and_says_in_one_line_why_it_has_no_chart(tmp_path,
                                                                                                 monkeypatch):
    from labnb.analysis import pngfig

    monkeypatch.setattr(pngfig, "Figure", None)  # as when `import matplotlib` fails (it is not in requirements.txt)
    answers = [(f"p{i}", f"t{i}", "a/a1", "a/a1" if i % 2 else "b/b1") for i in range(10)]
    a = make_run(tmp_path, "run-a", answers, cost=0.0)
    b = make_run(tmp_path, "run-b", answers, cost=0.02)
    html = write_report([a, b], tmp_path / "r.html").read_text()
    assert "<img" not in html
    # the top note, then in place of each chart: cost, two confusion matrices, latency (5 in all)
    assert html.count(pngfig.MISSING) == 5
    assert "No latencies recorded" not in html and "no gold labels" not in html and "Every run cost" not in html
    assert "The runs agree on every product they share." in html and "<table" in html
