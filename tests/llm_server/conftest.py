"""A real llama.cpp ``llama-server`` (built once from source by scripts/llama_server.py) for this session."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from conftest import ROOT


def llama_script():
    spec = importlib.util.spec_from_file_location("llama_server_script", ROOT / "scripts" / "llama_server.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory):
    """Builds llama-server the first time (6-20+ minutes on 2 cores, then cached), serves Gemma 3 270M on a free
    127.0.0.1 port with one slot, and stops it when the session ends. Never skipped: a failed build fails."""
    server = llama_script().start(tmp_path_factory.mktemp("llama") / "llama-server.log")
    try:
        yield server
    finally:
        server.stop()
