"""Shared fixtures: the fake API server, a test models.yaml, and the real CLI run in-process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from fakeapi import FakeAPIServer

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
TEST_KEY = "test-key-0123456789abcdef"


def taxonomy_pairs(path: Path = ROOT / "config" / "taxonomy.xml") -> list[tuple[str, str]]:
    """(category id, subcategory id) in document order: what the prompt's subcategory numbers stand for."""
    from assign_cat.taxonomy import load_taxonomy

    return [(c.id, s.id) for c in load_taxonomy(path).categories for s in c.subcategories]


@pytest.fixture
def fake_api():
    with FakeAPIServer(api_key=TEST_KEY) as server:
        server.taxonomy_pairs = taxonomy_pairs()
        yield server


def write_models_yaml(path: Path, **overrides) -> Path:
    """The shipped models.yaml with fast-failing retry settings for tests (and ``overrides`` per alias)."""
    data = yaml.safe_load((ROOT / "config" / "models.yaml").read_text())
    for entry in data["models"].values():
        if entry["provider"] != "local":
            entry.update(max_retries=2, timeout=5, max_retry_wait=0.2)
            entry.pop("rpm", None)
            entry.pop("tpm", None)
    for alias, fields in overrides.items():
        data["models"][alias].update(fields)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@dataclass
class CliResult:
    code: int
    out: str
    err: str
    runs_dir: Path

    @property
    def run_dirs(self) -> list[Path]:
        # .cache beside the run folders holds the response cache
        return sorted(p for p in self.runs_dir.iterdir() if p.is_dir() and not p.name.startswith(".")) \
            if self.runs_dir.exists() else []

    @property
    def run_dir(self) -> Path:
        assert len(self.run_dirs) >= 1, f"no run folder; stderr: {self.err}"
        return self.run_dirs[-1]

    def json(self, relative: str):
        return json.loads((self.run_dir / relative).read_text())


@pytest.fixture
def api_env(fake_api, monkeypatch):
    """Point both SDKs at the fake server through their own environment variables."""
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    monkeypatch.setenv("ANTHROPIC_API_KEY", TEST_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", f"{fake_api.url}/v1")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake_api.url)
    return fake_api


def in_process_cli(main, tmp_path: Path, capsys):
    """A runner of a CLI ``main(argv)`` with a test models.yaml and a temporary runs dir."""
    models = write_models_yaml(tmp_path / "models.yaml")
    runs = tmp_path / "runs"

    def run(*args: str, models_config: Path | None = None) -> CliResult:
        argv = [*args]
        if not any(a in argv for a in ("--resume", "--retry-failed", "--replay", "--models-config")):
            argv += ["--models-config", str(models_config or models)]
        if "--runs-dir" not in argv and not any(a in argv for a in ("--resume", "--retry-failed")):
            argv += ["--runs-dir", str(runs)]
        capsys.readouterr()
        code = main(argv)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err, runs)

    run.runs_dir = runs
    run.models = models
    return run


@pytest.fixture
def cli(api_env, tmp_path, capsys):
    """Run ``run_assign_cat.main`` in-process with a test models.yaml and a temporary runs dir."""
    from assign_cat.cli import main

    return in_process_cli(main, tmp_path, capsys)


@pytest.fixture
def text_cli(api_env, tmp_path, capsys):
    """Run ``run_classify_text.main`` in-process, like ``cli``."""
    from classify_text.cli import main

    return in_process_cli(main, tmp_path, capsys)


def subprocess_env(server: FakeAPIServer) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(OPENAI_API_KEY=TEST_KEY, ANTHROPIC_API_KEY=TEST_KEY, OPENAI_BASE_URL=f"{server.url}/v1",
               ANTHROPIC_BASE_URL=server.url, PYTHONPATH=str(ROOT / "src"))
    return env


def _llama_script():
    import importlib.util

    name = "llama_server_script"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / "llama_server.py")
        assert spec is not None and spec.loader is not None
        script = importlib.util.module_from_spec(spec)
        sys.modules[name] = script  # dataclasses look their module up there
        spec.loader.exec_module(script)
    return sys.modules[name]


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory):
    """A real llama.cpp ``llama-server`` serving Gemma 3 270M on a free 127.0.0.1 port with one slot; built from
    source by scripts/llama_server.py the first time (minutes; then cached), stopped when the session ends.
    Never skipped: a failed build fails the tests that use it."""
    server = _llama_script().start(tmp_path_factory.mktemp("llama") / "llama-server.log")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def small_context_llama_server(tmp_path):
    """The same server with a 1,024-token context, which assign-cat's taxonomy prompt (~3,000 tokens) overflows."""
    server = _llama_script().start(tmp_path / "llama-server-small.log", ctx_size=1024)
    try:
        yield server
    finally:
        server.stop()


def venv_over_this_one(venv: Path) -> Path:
    """A new venv that sees this interpreter's packages through a .pth file (``--system-site-packages``
    would see the base interpreter's, not this venv's); returns its python."""
    import sysconfig

    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = Path(sysconfig.get_paths()["purelib"])
    (venv / site.relative_to(sys.prefix) / "over-the-test-venv.pth").write_text(f"{site}\n")
    return venv / "bin" / "python"
