"""The experiment report from run folders: no meaningless chart, the items most often wrong, 24 cells."""

from __future__ import annotations

import lxml.html

from analysis.test_analyze import PAIR_X, PAIR_Y, make_run
from labnb.experiments import leaderboard
from labnb.experiments.cells import CellState
from labnb.experiments.report_html import render
from labnb.experiments.usecases import use_case


def board_of(tmp_path, runs: list[tuple[str, list[tuple], float]]) -> leaderboard.Leaderboard:
    cells = []
    for i, (model, answers, cost) in enumerate(runs, start=1):
        run = make_run(tmp_path, f"run-{i:02d}", answers, model=model, cost=cost)
        cells.append(CellState(i, f"model={model}", {"model": model}, {}, state="done", run_id=run.name,
                               run_dir=str(run)))
    return leaderboard.build(use_case("assign-cat"), ["model"], cells)


def test_free_cells_get_accuracy_with_intervals_not_a_cost_chart_and_the_most_wrong_items(tmp_path):
    board = board_of(tmp_path, [("x", PAIR_X, 0.0), ("y", PAIR_Y, 0.0)])
    page = lxml.html.fromstring(render(board, "exp"))
    assert [img.get("alt") for img in page.iter("img")] == ["accuracy by cell", "accuracy per category"]
    assert "Every cell cost $0.000000, so cost says nothing: accuracy alone is shown." in page.text_content()
    # Y is best (6/7); X (6/8) is wrong on p2 and p6, Y on p7 (an error): each item wrong in 1 of 2 cells.
    rows = [[td.text_content() for td in tr.iter("td")] for tr in page.xpath("//section[4]//tbody/tr")]
    assert [(r[0], r[2], r[3]) for r in rows] == [("p2", "b/b1", "1 of 2"), ("p6", "c/c1", "1 of 2"),
                                                 ("p7", "a/a1", "1 of 2")]
    assert rows[0][4] == "✓ b/b1: #1✗ a/a1: #2"  # answers grouped, the cells by leaderboard number
    assert rows[2][4] == "✓ a/a1: #2✗ error: timeout: #1"


def test_twenty_four_cells_each_get_a_row_and_one_scatter(tmp_path):
    board = board_of(tmp_path, [(f"m{i:02d}", PAIR_X if i % 2 else PAIR_Y, 0.001 * i) for i in range(24)])
    page = lxml.html.fromstring(render(board, "exp"))
    assert len(page.xpath("//section[1]//tbody/tr")) == 24
    assert [img.get("alt") for img in page.iter("img")] == ["cost against accuracy", "accuracy per category"]
    assert page.xpath("//section[1]//tbody/tr[1]/td[@class='num']")[0].text_content() == "1"


def test_without_matplotlib_the_leaderboard_stays_and_one_line_says_why_there_is_no_chart(tmp_path, monkeypatch):
    from labnb.analysis import pngfig

    monkeypatch.setattr(pngfig, "Figure", None)  # as when `import matplotlib` fails (it is not in requirements.txt)
    board = board_of(tmp_path, [("x", PAIR_X, 0.0), ("y", PAIR_Y, 0.001)])
    page = lxml.html.fromstring(render(board, "exp"))
    assert list(page.iter("img")) == []
    notes = [p.text_content() for p in page.xpath("//p[@class='note']")]
    assert notes.count(pngfig.MISSING) == 3  # the top note, cost against accuracy, accuracy per category
    assert len(page.xpath("//section[1]//tbody/tr")) == 2
