"""models.yaml, validated once into typed records."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from labnb.errors import ConfigError, MissingKeyError
from labnb.files import read_input

PROVIDERS = ("openai", "anthropic", "local")
DEFAULT_KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}

_PRICING_KEYS = {"input", "cached_input", "cache_write", "output", "batch_discount", "prices_as_of"}
_MODEL_KEYS = {
    "provider", "model", "description", "temperature", "max_tokens", "max_retries", "timeout",
    "max_retry_wait", "rpm", "tpm", "base_url", "api_key_env", "pricing",
}
_TOP_KEYS = {"default", "models"}


@dataclass(frozen=True)
class Pricing:
    """USD per 1M tokens; ``batch_discount`` is the fraction taken off by batch APIs."""

    input: float = 0.0
    cached_input: float = 0.0
    cache_write: float = 0.0
    output: float = 0.0
    batch_discount: float = 0.0
    prices_as_of: str = ""


@dataclass(frozen=True)
class ModelEntry:
    """One alias of models.yaml, with every default filled in."""

    alias: str
    provider: str
    model: str
    pricing: Pricing
    description: str = ""
    temperature: float = 0.0
    max_tokens: int = 1024
    max_retries: int = 2
    timeout: float = 60.0
    max_retry_wait: float = 60.0
    rpm: int | None = None
    tpm: int | None = None
    base_url: str | None = None
    api_key_env: str | None = None

    @property
    def model_used(self) -> str:
        """``provider/model``, the label written on every output row."""
        return f"{self.provider}/{self.model}"

    @property
    def key_env(self) -> str | None:
        return self.api_key_env or DEFAULT_KEY_ENV.get(self.provider)

    def api_key(self) -> str | None:
        """The key from the environment, or ``None`` for providers that need none."""
        env = self.key_env
        if env is None:
            return None
        value = os.environ.get(env, "").strip()
        if not value:
            raise MissingKeyError(
                f"model '{self.alias}' needs an API key: set the environment variable {env}"
            )
        return value

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


@dataclass(frozen=True)
class ModelsConfig:
    path: Path
    default: str
    models: dict[str, ModelEntry] = field(default_factory=dict)

    def get(self, alias: str | None) -> ModelEntry:
        """The entry for ``alias`` (the default when ``None``); unknown aliases are a ConfigError."""
        name = alias or self.default
        if name not in self.models:
            raise ConfigError(
                f"{self.path}: unknown model '{name}'; valid aliases: {', '.join(sorted(self.models))}"
            )
        return self.models[name]


def load_models_config(path: str | Path) -> ModelsConfig:
    """Read and validate models.yaml; every problem is a one-line ConfigError naming the file."""
    path = Path(path)
    raw = read_input(path, "models config", error=ConfigError, max_bytes=10 * 2**20)
    try:
        data = yaml.safe_load(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{path}:{where} malformed YAML: {problem}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with 'default' and 'models'")
    _no_unknown(path, "top level", data, _TOP_KEYS)
    raw_models = data.get("models")
    if not isinstance(raw_models, dict) or not raw_models:
        raise ConfigError(f"{path}: 'models' must be a non-empty mapping of aliases")
    models = {str(alias): _entry(path, str(alias), spec) for alias, spec in raw_models.items()}
    default = data.get("default")
    if not isinstance(default, str) or default not in models:
        raise ConfigError(
            f"{path}: 'default' must name one of the aliases: {', '.join(sorted(models))}"
        )
    return ModelsConfig(path=path, default=default, models=models)


def _entry(path: Path, alias: str, spec: Any) -> ModelEntry:
    where = f"models.{alias}"
    if not isinstance(spec, dict):
        raise ConfigError(f"{path}: {where} must be a mapping")
    _no_unknown(path, where, spec, _MODEL_KEYS)
    provider = spec.get("provider")
    if provider not in PROVIDERS:
        raise ConfigError(f"{path}: {where}.provider must be one of {', '.join(PROVIDERS)}")
    for key in ("model",):
        if not isinstance(spec.get(key), str) or not spec[key].strip():
            raise ConfigError(f"{path}: {where}: missing required field '{key}'")
    if "pricing" not in spec and provider != "local":
        raise ConfigError(f"{path}: {where}: missing required field 'pricing'")
    pricing = _pricing(path, f"{where}.pricing", spec.get("pricing") or {})
    kwargs: dict[str, Any] = {}
    for key, kind in (("temperature", float), ("timeout", float), ("max_retry_wait", float)):
        if key in spec:
            kwargs[key] = _number(path, f"{where}.{key}", spec[key], kind, minimum=0)
    for key in ("max_tokens", "rpm", "tpm"):
        if key in spec and spec[key] is not None:
            kwargs[key] = _number(path, f"{where}.{key}", spec[key], int, minimum=1)
    if "max_retries" in spec:
        kwargs["max_retries"] = _number(path, f"{where}.max_retries", spec["max_retries"], int, minimum=0)
    for key in ("base_url", "api_key_env", "description"):
        if spec.get(key) is not None:
            if not isinstance(spec[key], str):
                raise ConfigError(f"{path}: {where}.{key} must be a string")
            kwargs[key] = spec[key]
    return ModelEntry(alias=alias, provider=provider, model=spec["model"], pricing=pricing, **kwargs)


def _pricing(path: Path, where: str, spec: Any) -> Pricing:
    if not isinstance(spec, dict):
        raise ConfigError(f"{path}: {where} must be a mapping")
    _no_unknown(path, where, spec, _PRICING_KEYS)
    values: dict[str, Any] = {}
    for key in ("input", "output"):
        if key not in spec and spec:
            raise ConfigError(f"{path}: {where}: missing required field '{key}'")
    for key in ("input", "cached_input", "cache_write", "output", "batch_discount"):
        if key in spec:
            values[key] = _number(path, f"{where}.{key}", spec[key], float, minimum=0)
    if values.get("batch_discount", 0) >= 1:
        raise ConfigError(f"{path}: {where}.batch_discount must be below 1 (a fraction, e.g. 0.5)")
    if "cached_input" not in values and "input" in values:
        values["cached_input"] = values["input"]
    as_of = spec.get("prices_as_of", "")
    values["prices_as_of"] = as_of.isoformat() if isinstance(as_of, dt.date) else str(as_of)
    return Pricing(**values)


def _number(path: Path, where: str, value: Any, kind: type, *, minimum: float) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{path}: {where} must be a number, got {value!r}")
    if kind is int and int(value) != value:
        raise ConfigError(f"{path}: {where} must be a whole number, got {value!r}")
    if value < minimum:
        raise ConfigError(f"{path}: {where} must be at least {minimum}, got {value!r}")
    return kind(value)


def _no_unknown(path: Path, where: str, spec: dict, allowed: set[str]) -> None:
    unknown = sorted(set(map(str, spec)) - allowed)
    if unknown:
        raise ConfigError(
            f"{path}: {where}: unknown key '{unknown[0]}' (allowed: {', '.join(sorted(allowed))})"
        )
