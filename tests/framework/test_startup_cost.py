"""What keeps a run's start cheap: lazy SDK type packages, the cached token vocabulary, tokenizer-free pacing."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import ROOT
from labnb.clients import lazy_types
from labnb.cost import tokens


def test_a_package_init_that_only_re_exports_is_read_as_a_name_map():
    source = '"""doc"""\nfrom __future__ import annotations\nfrom .batch import Batch as Batch\n' \
             'from .chat import (\n    ChatCompletion as ChatCompletion,\n    Other,\n)\n'
    assert lazy_types.exports(source) == {
        "Batch": ("batch", "Batch"), "ChatCompletion": ("chat", "ChatCompletion"), "Other": ("chat", "Other")}


@pytest.mark.parametrize("source", [
    "from .a import X\nimport os\n",  # any other statement: the package loads as usual
    "from .a import *\n",
    "from a import X\n",
    "from .a import X\nVALUE = 1\n",
])
def test_any_other_package_init_loads_as_usual(source):
    assert lazy_types.exports(source) is None


def test_the_sdk_types_load_on_first_use_and_resolve_as_before():
    code = (
        "import sys\n"
        "from labnb.clients import lazy_types\n"
        "openai = lazy_types.openai_sdk()\n"
        "before = sum(m.startswith('openai.types') for m in sys.modules)\n"
        "assert 'openai.types.eval_create_params' not in sys.modules\n"
        "from openai.types import Batch, CompletionUsage\n"
        "from openai.types.chat import ChatCompletion\n"
        "import openai.types.responses as responses\n"
        "assert Batch.__module__ == 'openai.types.batch' and ChatCompletion.__name__ == 'ChatCompletion'\n"
        "assert openai.types.Batch is Batch and responses.Response.__name__ == 'Response'\n"
        "try:\n    openai.types.NoSuchName\nexcept AttributeError as exc:\n    print('missing:', exc)\n"
        "print(before)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(ROOT / "src"), "PATH": os.environ["PATH"]}).stdout.splitlines()
    assert out[0] == "missing: module 'openai.types' has no attribute 'NoSuchName'"
    assert int(out[1]) < 150  # of the 468 the eager package imports


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LABNB_CACHE_DIR", str(tmp_path))
    return tmp_path / "tokens"


def test_the_token_vocabulary_is_cached_and_a_damaged_cache_is_rebuilt(cache, monkeypatch):
    parsed = tokens._ranks("o200k_base")
    (file,) = cache.iterdir()
    assert file.name.startswith("o200k_base-") and len(parsed) == 199_998

    def no_parse(data):
        raise AssertionError("parsed again")

    with monkeypatch.context() as patch:
        patch.setattr(tokens, "parse_vocabulary", no_parse)
        assert tokens._ranks("o200k_base") == parsed  # read back from the cache

    file.write_bytes(file.read_bytes()[: 1000])  # a torn write
    assert tokens._ranks("o200k_base") == parsed
    assert tokens.parse_vocabulary(b"\x01\x00\x00\x00\x02\x00hi\x07\x00\x00\x00") == {b"hi": 7}


def test_the_rough_estimate_reads_bytes_not_characters():
    assert tokens.rough("") == 1
    assert tokens.rough("a" * 40) == 11
    assert tokens.rough("日本語" * 4) == 10  # 36 bytes: CJK is not under-counted as characters / 4 would
