"""The docs' "your own CSV in five steps" (docs/getting-started/your-own-data.md), driven as written: a catalog
with its own label columns and no id column, labelled examples given as names."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pandas as pd

from conftest import ROOT

STEPS = ROOT / "docs" / "getting-started" / "your-own-data.md"
HEADER = ["title", "brand", "category", "subcategory"]
CATALOG = [
    ("Vitamin D3 2000 IU Softgels", "Sunvale", "Vitamins & Minerals", "Vitamin D"),
    ("Magnesium Glycinate 400 mg Capsules", "Sunvale", "Vitamins & Minerals", "Magnesium"),
    ("Whey Protein Isolate Chocolate 2 lb", "Ironline", "Sports Nutrition", "Protein Powder"),
    ("Creatine Monohydrate Powder 500 g", "Ironline", "Sports Nutrition", "Creatine"),
    ("Lavender Essential Oil 30 ml", "", "Aromatherapy", "Essential Oils"),
    ("Ultrasonic Aroma Diffuser with Night Light", "", "Aromatherapy", "Diffusers"),
]
LABELLED = [
    ("Liquid Vitamin D3 Drops", "Sunvale", "Vitamins & Minerals", "Vitamin D"),
    ("Magnesium Citrate Powder", "", "Vitamins & Minerals", "Magnesium"),
    ("Casein Protein Powder Vanilla", "Ironline", "Sports Nutrition", "Protein Powder"),
    ("Micronized Creatine Capsules", "", "Sports Nutrition", "Creatine"),
    ("Eucalyptus Essential Oil", "", "Aromatherapy", "Essential Oils"),
    ("Reed Diffuser Refill Cedar", "", "Aromatherapy", "Diffusers"),
]


def commands(page: Path) -> list[list[str]]:
    """The shell commands of the page's five steps, in order (continuation lines joined)."""
    text = page.read_text(encoding="utf-8").split("## A flat label set")[0]
    blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
    lines = [line for block in blocks for line in block.replace("\\\n", " ").splitlines()]
    return [re.sub(r"\s+#.*", "", line).split() for line in lines if line.startswith("python ")]


def write(path: Path, rows) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([HEADER, *rows])
    return path


def test_the_five_steps_of_the_docs_on_a_catalog_with_its_own_label_columns(cli, api_env, tmp_path, monkeypatch,
                                                                                capsys):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "catalog.csv", CATALOG)
    write(tmp_path / "labelled.csv", LABELLED)
    steps = commands(STEPS)
    assert [s[:2] for s in steps] == [["python", "src/run_assign_cat.py"]] * 3 + [["python", "src/analyze_runs.py"]] * 2
    dry, local, llm, listing, report = steps

    # 1. the dry run: nothing sent, no folder, the label columns withheld
    done = cli(*dry[2:])
    assert done.code == 0 and done.run_dirs == [] and api_env.model_calls == 0, done.err
    assert done.out.startswith("dry run: 6 products, batch size 1, taxonomy 'catalog' (6 pairs); nothing was sent; "
                               "columns offered to the model: brand; withheld (kept in the outputs): none\n")

    # 2. the local model, learning from the labelled products (none of them copies a catalog row)
    done = cli(*local[2:])
    assert done.code == 0, done.err
    line = done.out.strip().splitlines()[-1]
    assert line.startswith("completed: 6 classified, 0 failed | accuracy 100.0% | "), line
    learning = done.json("config/system_info.json")["model"]["learning"]
    assert (learning["count"], learning["left_out_matching_the_input"]) == (6, 0)
    local_run = done.run_dir

    # 3. pandas reads the answers: ids of the taxonomy built from the columns
    df = pd.read_csv(local_run / "outputs" / "classifications.csv")
    assert df[["expected_category", "expected_subcategory"]].values.tolist() == [
        ["vitamins-minerals", "vitamin-d"], ["vitamins-minerals", "magnesium"], ["sports-nutrition", "protein-powder"],
        ["sports-nutrition", "creatine"], ["aromatherapy", "essential-oils"], ["aromatherapy", "diffusers"]]
    assert df["correct"].tolist() == [True] * 6

    # 4. an LLM (the fake API, answering 5 of the 6 right)
    pairs = df[["expected_category", "expected_subcategory"]].apply(tuple, axis=1).tolist()
    api_env.taxonomy_pairs = pairs
    api_env.labels = {title: pair for (title, *_), pair in zip(CATALOG, pairs)}
    api_env.labels[CATALOG[5][0]] = pairs[4]  # the diffuser filed under essential oils
    done = cli(*llm[2:])
    assert done.code == 0, done.err
    assert done.out.strip().splitlines()[-1].startswith("completed: 6 classified, 0 failed | accuracy 83.3% | ")
    llm_run = done.run_dir
    assert api_env.model_calls == 6

    # 5. list and report, with the run ids the page tells to take from the list
    from analyze_runs import main as analyze

    capsys.readouterr()
    assert analyze([*listing[2:], "--runs-dir", str(cli.runs_dir)]) == 0
    listed = capsys.readouterr().out
    assert local_run.name in listed and llm_run.name in listed
    ids = [local_run.name, llm_run.name]
    argv = [a for a in report[2:] if not a.startswith("assign-cat-")]
    assert analyze([argv[0], *ids, *argv[1:], "--runs-dir", str(cli.runs_dir)]) == 0
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<h1>Run report: local, gpt4o-mini</h1>" in html and "Disagreements (1 products)" in html
