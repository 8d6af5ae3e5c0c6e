"""Cell names are unambiguous: a value's own ``,``, ``=`` and ``\\`` are escaped, so no two cells share a name."""

from __future__ import annotations

from experiments.test_experiments import run, write_spec
from labnb.experiments.grid import cell_names

GRID = '  tag: ["a,note=b", "a"]\n  note: ["c", "b,note=c"]\n'


def test_values_holding_separators_give_distinct_escaped_names():
    names = cell_names({"tag": ["a,note=b", "a"], "note": ["c", "b,note=c"]})
    assert names == ["tag=a\\,note\\=b,note=c", "tag=a\\,note\\=b,note=b\\,note\\=c",
                     "tag=a,note=c", "tag=a,note=b\\,note\\=c"]
    assert cell_names({"note": ["x\\", "x\\\\"]}) == ["note=x\\\\", "note=x\\\\\\\\"]


def test_a_spec_whose_plain_names_would_collide_runs_four_distinct_cells(api_env, tmp_path, capsys):
    gate = '\ngate: {cell: "tag=a,note=b\\\\,note\\\\=c", metric: accuracy, min: 0}\n'
    spec = write_spec(tmp_path, GRID, gate, n=2)
    code, out, err = run(capsys, str(spec), "--dry-run")
    assert code == 0, err
    names = [line.split()[0] for line in out.splitlines()[2:-2]]
    assert names == ["tag=a\\,note\\=b,note=c", "tag=a\\,note\\=b,note=b\\,note\\=c",
                     "tag=a,note=c", "tag=a,note=b\\,note\\=c"]
    assert len(set(names)) == 4
