"""Hostile and broken input: one line naming the file and the problem, exit 2, no traceback, nothing written."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from conftest import ROOT

TAX_OK = ("<taxonomy name='t' version='1'><category id='a' name='A'><subcategory id='b' name='B'/></category>"
          "</taxonomy>")
XXE = ('<?xml version="1.0"?><!DOCTYPE t [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
       '<taxonomy name="&x;" version="1"><category id="a" name="A"><subcategory id="b" name="B"/></category>'
       '</taxonomy>')
LAUGHS = ('<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
          '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><taxonomy name="&c;" version="1"><category id="a" name="A">'
          '<subcategory id="b" name="B"/></category></taxonomy>')
EXTERNAL = ('<?xml version="1.0"?><!DOCTYPE taxonomy SYSTEM "http://127.0.0.1:9/x.dtd"><taxonomy name="t" '
            'version="1"><category id="a" name="A"><subcategory id="b" name="B"/></category></taxonomy>')

MODEL = "default: a\nmodels:\n  a: {{provider: openai, model: m, pricing: {}}}\n"

# (id, files to create {name: content}, CLI args ({d} = the temp dir), text the error must contain)
CASES = [
    ("malformed csv", {"p.csv": 'title,brand\n"Whey,Acme\n'}, ["--input", "{d}/p.csv"], "malformed CSV"),
    ("truncated csv", {"p.csv": 'title,description\nWhey,"Great for'}, ["--input", "{d}/p.csv"], "malformed CSV"),
    ("wrong delimiter", {"p.csv": "title;brand\nWhey;Acme\n"}, ["--input", "{d}/p.csv"], "semicolon-delimited"),
    ("latin-1 file", {"p.csv": "title\nCr\xe8me\n".encode("latin-1")}, ["--input", "{d}/p.csv"], "not UTF-8"),
    ("empty title", {"p.csv": "title\nWhey\n\"  \"\n"}, ["--input", "{d}/p.csv"], "line 3: empty title"),
    ("1 MB title", {"p.csv": "title\n" + "x" * 1_000_000 + "\n"}, ["--input", "{d}/p.csv"], "title longer than"),
    ("duplicate ids", {"p.csv": "product_id,title\n1,A\n1,B\n"}, ["--input", "{d}/p.csv"], "duplicate product_id"),
    ("missing file", {}, ["--input", "{d}/nope.csv"], "input file not found"),
    ("directory as file", {"dir.csv/x": ""}, ["--input", "{d}/dir.csv"], "is a directory"),
    ("empty file", {"p.csv": ""}, ["--input", "{d}/p.csv"], "file is empty"),
    ("header only", {"p.csv": "title,brand\n"}, ["--input", "{d}/p.csv"], "no products"),
    ("no title column", {"p.csv": "name\nWhey\n"}, ["--input", "{d}/p.csv"], "missing required column 'title'"),
    ("json not a list", {"p.json": '{"a": 1}'}, ["--input", "{d}/p.json"], "expected a JSON list"),
    ("broken jsonl", {"p.jsonl": '{"title": "A"}\n{"title": \n'}, ["--input", "{d}/p.jsonl"], "line 2: malformed"),
    ("old excel file", {"p.xls": "PK"}, ["--input", "{d}/p.xls"], "unknown file type"),
    ("corrupt xlsx", {"p.xlsx": "PK"}, ["--input", "{d}/p.xlsx"], "not a readable Excel .xlsx file"),
    ("malformed yaml", {"m.yaml": "default: a\nmodels: {a: [\n"}, ["--models-config", "{d}/m.yaml"], "malformed YAML"),
    ("unknown model key", {"m.yaml": "default: a\nmodels:\n  a: {provider: openai, model: m, colour: red, "
                           "pricing: {input: 1, output: 1}}\n"}, ["--models-config", "{d}/m.yaml"],
     "unknown key 'colour'"),
    ("models config missing", {}, ["--models-config", "{d}/none.yaml"], "models config not found"),
    ("models config is a dir", {"cfg/x": ""}, ["--models-config", "{d}/cfg"], "is a directory"),
    ("unknown model", {}, ["--model", "gpt9"], "unknown model 'gpt9'; valid aliases:"),
    ("negative batch size", {}, ["--batch-size", "-3"], "--batch-size must be at least 1, got -3"),
    ("zero concurrency", {}, ["--concurrency", "0"], "--concurrency must be at least 1"),
    ("zero limit", {}, ["--limit", "0"], "--limit must be at least 1"),
    ("negative timeout", {}, ["--timeout", "-1"], "--timeout must be positive"),
    ("batch size not a number", {}, ["--batch-size", "ten"], "argument --batch-size: invalid int value: 'ten'"),
    ("xxe taxonomy", {"t.xml": XXE}, ["--taxonomy", "{d}/t.xml"], "DOCTYPE declarations and entities are not allowed"),
    ("billion laughs", {"t.xml": LAUGHS}, ["--taxonomy", "{d}/t.xml"], "DOCTYPE declarations and entities"),
    ("external dtd", {"t.xml": EXTERNAL}, ["--taxonomy", "{d}/t.xml"], "DOCTYPE declarations and entities"),
    ("missing subcategory id", {"t.xml": TAX_OK.replace("id='b' ", "")}, ["--taxonomy", "{d}/t.xml"],
     "does not match taxonomy.xsd"),
    ("duplicate category id", {"t.xml": TAX_OK.replace("</taxonomy>", "<category id='a' name='A'><subcategory "
                                                        "id='c' name='C'/></category></taxonomy>")},
     ["--taxonomy", "{d}/t.xml"], "duplicate category id 'a'"),
    ("malformed taxonomy", {"t.xml": "<taxonomy"}, ["--taxonomy", "{d}/t.xml"], "malformed XML"),
    ("taxonomy missing", {}, ["--taxonomy", "{d}/none.xml"], "taxonomy file not found"),
    # models.yaml values that would make the numbers wrong (issue 11 §6): file, line and alias named
    ("nan price", {"m.yaml": MODEL.format("{input: .nan, output: 1}")}, ["--models-config", "{d}/m.yaml"],
     "line 3: models.a.pricing.input must be a finite number, got nan"),
    ("infinite price", {"m.yaml": MODEL.format("{input: 1, output: .inf}")}, ["--models-config", "{d}/m.yaml"],
     "line 3: models.a.pricing.output must be a finite number, got inf"),
    ("negative price", {"m.yaml": MODEL.format("{input: -1, output: 1}")}, ["--models-config", "{d}/m.yaml"],
     "line 3: models.a.pricing.input must be at least 0"),
    ("duplicate alias", {"m.yaml": MODEL.format("{input: 1, output: 1}") + "  a: {provider: openai, model: x, "
                         "pricing: {input: 9, output: 9}}\n"}, ["--models-config", "{d}/m.yaml"],
     "line 4: duplicate key 'a' (first at line 3)"),
    ("yaml alias bomb", {"m.yaml": "x: &x [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\ny: &y [*x, *x, *x, *x, *x, *x, *x, *x]\n"
                         + MODEL.format("{input: 1, output: 1}")}, ["--models-config", "{d}/m.yaml"],
     "line 2: YAML aliases (*name) are not allowed"),
    ("timeout 0", {"m.yaml": MODEL.format("{input: 1, output: 1}, timeout: 0")}, ["--models-config", "{d}/m.yaml"],
     "line 3: models.a.timeout must be above 0, got 0"),
    ("timeout 1e12", {"m.yaml": MODEL.format("{input: 1, output: 1}, timeout: 1e12")},
     ["--models-config", "{d}/m.yaml"], "line 3: models.a.timeout must be at most 86400, got 1e+12"),
    # bad starts (issue 11 §8)
    ("lone surrogate title", {}, ["--single-product", "Whey \ud800"], "the title is not valid Unicode (lone surrogate"),
    ("non-utf-8 argv byte", {}, ["--single-product", "Whey \udcff"], "--single-product: the title is not UTF-8 "
     "(byte 0xff)"),
    ("nested json title", {"p.jsonl": '{"title": "A"}\n{"title": {"en": "B"}}\n'}, ["--input", "{d}/p.jsonl"],
     "line 2: field 'title' must be text or a number, not a nested JSON value"),
    ("deeply nested json", {"p.json": '[{"title": "A", "x": ' + "[" * 50_000 + "]" * 50_000 + "}]"},
     ["--input", "{d}/p.json"], "line 1: JSON nested too deeply"),
    ("runs dir is a file", {"runs.txt": "x"}, ["--runs-dir", "{d}/runs.txt/runs"], "cannot create the runs directory"),
]


def materialise(tmp_path, files):
    for name, content in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if name.endswith("/x"):
            continue  # only the directory is wanted
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))


@pytest.mark.parametrize("name, files, args, message", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(cli, tmp_path, name, files, args, message):
    materialise(tmp_path, files)
    args = [a.format(d=tmp_path) for a in args]
    if "--input" not in args and "--single-product" not in args:
        args += ["--single-product", "Whey Protein"]
    try:
        result = cli(*args)
        code, stderr = result.code, result.err
    except SystemExit as exit_:  # argparse's own errors exit from parse_args; checked by subprocess below
        code, stderr = exit_.code, ""
    assert code == 2
    if stderr:
        assert stderr.count("\n") == 1 and stderr.startswith("error: ") and message in stderr, stderr
        file_args = [a for a in args if str(tmp_path) in a and "runs" not in a]
        if file_args:
            assert any(a in stderr for a in file_args), stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_argparse_errors_are_one_line_without_traceback(tmp_path):
    for args in (["--batch-size", "ten", "--single-product", "x"], ["--bogus"], ["--input", str(tmp_path / "x.csv")]):
        done = subprocess.run([sys.executable, str(ROOT / "src" / "run_assign_cat.py"), *args,
                               "--runs-dir", str(tmp_path / "runs")], capture_output=True, text=True,
                              env={"PATH": "/usr/bin:/bin", "OPENAI_API_KEY": "k"})
        assert done.returncode == 2 and done.stderr.count("\n") == 1 and done.stderr.startswith("error: ")
        assert "Traceback" not in done.stderr and done.stdout == ""
    assert not (tmp_path / "runs").exists()


def test_what_real_spreadsheets_produce_loads_end_to_end(cli, tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes('\ufefftitle,brand,notes\r\n"Fish Oil, Triple Strength",Nordic,"two\r\nlines"\r\n'
                     '"Crème ""Brûlée"" Whey",Acme,\r\n\r\n\r\n'.encode())
    result = cli("--input", str(path))
    assert result.code == 0, result.err
    table = pd.read_csv(result.run_dir / "outputs" / "classifications.csv", dtype=str, keep_default_na=False)
    assert table["title"].tolist() == ["Fish Oil, Triple Strength", 'Crème "Brûlée" Whey']
