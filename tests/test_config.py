"""models.yaml validation: the shipped file, defaults, and every kind of mistake."""

from pathlib import Path

import pytest

from labnb.config import load_models_config
from labnb.errors import ConfigError, MissingKeyError

ROOT = Path(__file__).resolve().parents[1]

GOOD = """
default: a
models:
  a:
    provider: openai
    model: gpt-4o-mini
    pricing: {input: 0.15, output: 0.6}
  b:
    provider: anthropic
    model: claude-haiku-4-5
    base_url: http://127.0.0.1:9/
    api_key_env: MY_KEY
    max_retries: 0
    rpm: 10
    pricing: {input: 1, cached_input: 0.1, cache_write: 1.25, output: 5, batch_discount: 0.5, prices_as_of: 2026-11-28}
"""


def write(tmp_path, text):
    path = tmp_path / "models.yaml"
    path.write_text(text)
    return path


def test_shipped_models_yaml_has_the_design_aliases_and_local():
    config = load_models_config(ROOT / "config" / "models.yaml")
    assert config.default == "gpt4o_mini"
    assert sorted(config.models) == ["gpt4_turbo", "gpt4o", "gpt4o_mini", "haiku", "local", "opus", "sonnet"]
    mini = config.get(None)
    assert (mini.provider, mini.model, mini.temperature) == ("openai", "gpt-4o-mini", 0.0)
    assert (mini.pricing.input, mini.pricing.cached_input, mini.pricing.output) == (0.15, 0.075, 0.60)
    for alias in ("haiku", "sonnet", "opus"):
        entry = config.get(alias)
        assert entry.provider == "anthropic" and entry.model.startswith("claude-")
        assert entry.pricing.cache_write > entry.pricing.input > entry.pricing.cached_input
        assert entry.pricing.batch_discount == 0.5 and entry.pricing.prices_as_of == "2026-11-28"
    assert config.get("local").model_used == "local/all-MiniLM-L6-v2"


def test_defaults_and_optional_fields(tmp_path):
    config = load_models_config(write(tmp_path, GOOD))
    a, b = config.get("a"), config.get("b")
    assert a.pricing.cached_input == 0.15  # no cached price given: cached tokens cost full price
    assert (a.max_retries, a.timeout, a.base_url, a.key_env) == (2, 60.0, None, "OPENAI_API_KEY")
    assert (b.base_url, b.key_env, b.max_retries, b.rpm) == ("http://127.0.0.1:9/", "MY_KEY", 0, 10)
    assert b.pricing.prices_as_of == "2026-11-28"  # YAML dates become ISO strings


@pytest.mark.parametrize("text, message", [
    ("default: a\nmodels:\n  a: {provider: openai, model: m, pricing: {input: 1, output: 1}, temprature: 0}\n",
     "models.a: unknown key 'temprature'"),
    ("default: a\nmodels:\n  a: {provider: openai, pricing: {input: 1, output: 1}}\n",
     "models.a: missing required field 'model'"),
    ("default: a\nmodels:\n  a: {provider: openai, model: m}\n", "models.a: missing required field 'pricing'"),
    ("default: a\nmodels:\n  a: {provider: cohere, model: m, pricing: {input: 1, output: 1}}\n",
     "models.a.provider must be one of openai, anthropic, local"),
    ("default: a\nmodels:\n  a: {provider: openai, model: m, pricing: {input: -1, output: 1}}\n",
     "models.a.pricing.input must be at least 0"),
    ("default: a\nmodels:\n  a: {provider: openai, model: m, max_tokens: 0, pricing: {input: 1, output: 1}}\n",
     "models.a.max_tokens must be at least 1"),
    ("default: a\nmodels:\n  a: {provider: openai, model: m, pricing: {input: 1, output: 1, batch_discount: 2}}\n",
     "batch_discount must be below 1"),
    ("default: z\nmodels:\n  a: {provider: openai, model: m, pricing: {input: 1, output: 1}}\n",
     "'default' must name one of the aliases: a"),
    ("models: [1, 2]\ndefault: a\n", "'models' must be a non-empty mapping"),
    ("default: a\nmodels:\n  a: {provider: openai\n", "malformed YAML"),
    ("- just\n- a list\n", "expected a mapping"),
])
def test_config_errors_are_one_line_and_name_the_file(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_models_config(path)
    assert message in str(err.value)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_unknown_alias_lists_the_valid_ones(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown model 'nope'; valid aliases: a, b"):
        load_models_config(write(tmp_path, GOOD)).get("nope")


def test_missing_key_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("MY_KEY", raising=False)
    with pytest.raises(MissingKeyError, match="set the environment variable MY_KEY"):
        load_models_config(write(tmp_path, GOOD)).get("b").api_key()
    monkeypatch.setenv("MY_KEY", "k-123")
    assert load_models_config(write(tmp_path, GOOD)).get("b").api_key() == "k-123"
