"""models.yaml validation: the shipped file, defaults, and every kind of mistake."""

from pathlib import Path

import pytest

from labnb.config import load_models_config
from labnb.errors import ConfigError, MissingKeyError

ROOT = Path(__file__).resolve().parents[2]

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


ENTRY = "default: a\nmodels:\n  a:\n    provider: openai\n    model: m\n"
PRICED = ENTRY + "    pricing: {input: 1, output: 1}\n"


@pytest.mark.parametrize("text, message", [
    (ENTRY + "    pricing: {input: .nan, output: 1}\n", "line 6: models.a.pricing.input must be a finite number"),
    (ENTRY + "    pricing: {input: 1, output: .inf}\n", "line 6: models.a.pricing.output must be a finite number"),
    (ENTRY + "    pricing: {input: -0.5, output: 1}\n", "line 6: models.a.pricing.input must be at least 0"),
    (ENTRY + "    pricing:\n      input: 1\n      output: 1\n      cached_input: -.inf\n",
     "line 9: models.a.pricing.cached_input must be a finite number"),
    (PRICED + "    timeout: 0\n", "line 7: models.a.timeout must be above 0, got 0"),
    (PRICED + "    timeout: 1e12\n", "line 7: models.a.timeout must be at most 86400, got 1e+12"),
    (PRICED + "    timeout: .nan\n", "line 7: models.a.timeout must be a finite number"),
    (PRICED + "    rpm: .inf\n", "line 7: models.a.rpm must be a finite number"),
    (PRICED + "  a:\n    provider: openai\n    model: gpt-4-turbo\n    pricing: {input: 10, output: 30}\n",
     "line 7: duplicate key 'a' (first at line 3)"),
    (PRICED + "    model: other\n", "line 7: duplicate key 'model' (first at line 5)"),
    ("default: a\nx: &x [1, 2]\nmodels:\n  a: {provider: openai, model: m, pricing: {input: 1, output: 1}}\n"
     "  b: {provider: openai, model: *x}\n", "line 5: YAML aliases (*name) are not allowed"),
    (PRICED + "    base_url: http://h/v1\n    base_url_env: URL\n", "line 8: models.a: give base_url or base_url_env"),
])
def test_models_yaml_values_that_would_make_numbers_wrong_are_one_line_errors(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_models_config(path)
    assert str(err.value).startswith(f"{path}: ") and message in str(err.value), str(err.value)
    assert "\n" not in str(err.value)


def test_yaml_alias_bomb_is_refused_before_it_expands(tmp_path):
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 10) + "]" for i in range(8)]
    path = write(tmp_path, "\n".join(lines) + "\ndefault: a\nmodels: {}\n")
    with pytest.raises(ConfigError, match=r"line 2: YAML aliases \(\*name\) are not allowed"):
        load_models_config(path)


def test_exponent_numbers_read_as_numbers(tmp_path):
    # YAML 1.1 (PyYAML) reads 1e3 as a string; models.yaml reads it as the number it looks like.
    entry = load_models_config(write(tmp_path, PRICED + "    timeout: 1e3\n    max_retry_wait: 2.5E+1\n")).get("a")
    assert (entry.timeout, entry.max_retry_wait) == (1000.0, 25.0)


def test_url_password_is_warned_about_redacted_in_records_and_base_url_env_keeps_it_out(tmp_path, capsys,
                                                                                        monkeypatch):
    config = load_models_config(write(tmp_path, PRICED + "    base_url: https://bob:hunter2-secret@h.example/v1\n"))
    err = capsys.readouterr().err
    assert err == (f"warning: {tmp_path / 'models.yaml'}: line 7: models.a.base_url holds a password, and "
                   "models.yaml is copied into every run folder; put the URL in an environment variable and name "
                   "it with base_url_env instead\n")
    load_models_config(tmp_path / "models.yaml")
    assert capsys.readouterr().err == ""  # once per file and alias, however often it is loaded
    entry = config.get("a")
    assert entry.base_url == "https://bob:hunter2-secret@h.example/v1"  # the client still needs it
    assert entry.to_dict()["base_url"] == "https://bob:***@h.example/v1"
    from labnb.store.scrub import scrub

    assert scrub("refused: hunter2-secret") == "refused: [REDACTED]"

    config = load_models_config(write(tmp_path, PRICED + "    base_url_env: MY_URL\n"))
    assert capsys.readouterr().err == ""
    with pytest.raises(MissingKeyError, match="model 'a' needs its base URL: set the environment variable MY_URL"):
        config.get("a")
    monkeypatch.setenv("MY_URL", "http://u:pw-from-env@h.example/v1")
    assert config.get("a").base_url == "http://u:pw-from-env@h.example/v1"
    assert config.get("a").to_dict()["base_url"] == "http://u:***@h.example/v1"


def test_concurrency_and_timeout_limits():
    from labnb.errors import UsageError
    from labnb.limits import MAX_CONCURRENCY, check_run_limits

    check_run_limits(MAX_CONCURRENCY, 86_400)
    with pytest.raises(UsageError, match=f"--concurrency must be at most {MAX_CONCURRENCY}, got 100000000"):
        check_run_limits(10**8, None)
    with pytest.raises(UsageError, match="--timeout must be at most 86400 seconds, got 1e\\+12"):
        check_run_limits(None, 1e12)
