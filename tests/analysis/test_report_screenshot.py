"""The two-run report as a person sees it: headless Chromium renders it, the runs table never wraps, the picture
is not blank (and was looked at when this was written: names by tag, rounded numbers, ✓/✗ on disagreements)."""

from __future__ import annotations

import json
import re

from test_analyze import PAIR_X, PAIR_Y, make_run

from browser import dump_dom, picture_facts, screenshot
from labnb.analysis.report import write_report

MEASURE = """<script>
document.body.setAttribute("data-rows", JSON.stringify(
  [...document.querySelectorAll("table.runs tr")].map(r => Math.round(r.getBoundingClientRect().height))));
document.body.setAttribute("data-width", String(document.querySelector("table.runs").getBoundingClientRect().width));
</script></body>"""


def test_the_two_run_report_renders_unwrapped_and_not_blank(tmp_path):
    runs = tmp_path / "runs"
    a = make_run(runs, "assign-cat-2025-09-19-140000", PAIR_X, model="gpt4o_mini", cost=0.0213, tokens=51234,
                 tags=("baseline",))
    b = make_run(runs, "assign-cat-2025-09-19-150000", PAIR_Y, model="claude_sonnet_long_alias", cost=0.3012,
                 tokens=62001, status="completed_with_errors", tags=("new-prompt-with-a-long-tag",))
    report = write_report([a, b], tmp_path / "report.html")
    measured = tmp_path / "measured.html"
    measured.write_text(report.read_text(encoding="utf-8").replace("</body>", MEASURE), encoding="utf-8")
    dom = dump_dom(measured.as_uri(), width=1280)
    heights = json.loads(re.search(r'data-rows="([^"]+)"', dom).group(1).replace("&quot;", '"'))
    width = float(re.search(r'data-width="([^"]+)"', dom).group(1))
    # header one line, each run two (its name, then its folder): nothing wrapped, and the table fits the window
    assert len(heights) == 3 and heights[1] == heights[2] < 2.5 * heights[0], heights
    assert width < 1280 - 2 * 16, width
    png = screenshot(report.as_uri(), tmp_path / "report.png", width=1280, height=1400)
    facts = picture_facts(png)
    assert (facts["width"], facts["height"]) == (1280, 1400)
    assert facts["inked"] > 0.05 and facts["colours"] > 50, facts  # text, tables and a chart, not a blank page
    text = report.read_text(encoding="utf-8")
    assert "<h1>Run report: baseline, new-prompt-with-a-long-tag</h1>" in text
    assert "completed_with_errors" in text and "$0.301200" in text and "62,001" in text
