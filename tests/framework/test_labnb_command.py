"""The `labnb` command dispatches to the run, experiment and analysis parsers and lists the tasks it finds."""

from __future__ import annotations

from labnb.cli import main


def test_tasks_lists_the_built_in_tasks_from_the_projects_entry_points(capsys):
    assert main(["tasks"]) == 0
    rows = [line.split(None, 2) for line in capsys.readouterr().out.splitlines()]
    assert [row[:2] for row in rows] == [["assign-cat", "assign_cat.task:AssignCat"],
                                         ["classify", "labnb.flat.task:Classify"],
                                         ["classify-text", "classify_text.task:ClassifyText"]]
    assert rows[1][2] == "One label of a flat label set for each text; the run is named for the label set."


def test_each_command_reaches_its_parser_and_errors_are_one_line(capsys, tmp_path):
    assert main(["experiment"]) == 2
    assert capsys.readouterr().err == "error: give exactly one of SPEC.yaml or --resume EXP_DIR\n"
    assert main(["runs", "list", "--runs-dir", str(tmp_path)]) == 0
    capsys.readouterr()
    assert main(["run", "nope"]) == 2
    assert capsys.readouterr().err == ("error: unknown task 'nope' (registered: assign-cat, classify, classify-text; "
                                       "see labnb tasks)\n")
    assert main(["run", "classify-text", "--single-text", "Great", "--input", "x.csv"]) == 2
    assert capsys.readouterr().err == "error: give exactly one of --single-text TEXT or --input FILE\n"
    assert main(["frobnicate"]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("usage:\n    labnb run TASK") and captured.err.endswith(
        "error: unknown command 'frobnicate'\n")
