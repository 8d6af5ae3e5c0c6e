"""models.yaml, validated once into typed records."""

from __future__ import annotations

import datetime as dt
import math
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from labnb.errors import ConfigError, MissingKeyError
from labnb.inputs.files import read_input
from labnb.inputs.yamlsafe import LinedMap, load_yaml
from labnb.limits import MAX_TIMEOUT_SECONDS
from labnb.store.scrub import redact_url, register_secret, url_password

PROVIDERS = ("openai", "anthropic", "local")
DEFAULT_KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}

_PRICING_KEYS = {"input", "cached_input", "cache_write", "output", "batch_discount", "prices_as_of"}
_MODEL_KEYS = {
    "provider", "model", "description", "temperature", "max_tokens", "max_retries", "timeout",
    "max_retry_wait", "rpm", "tpm", "base_url", "base_url_env", "api_key_env", "pricing",
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
    base_url_env: str | None = None

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

    def with_base_url(self) -> ModelEntry:
        """The entry with ``base_url`` read from ``base_url_env`` (where the URL's password stays)."""
        if not self.base_url_env:
            return self
        value = os.environ.get(self.base_url_env, "").strip()
        if not value:
            raise MissingKeyError(
                f"model '{self.alias}' needs its base URL: set the environment variable {self.base_url_env}"
            )
        register_secret(url_password(value))
        return replace(self, base_url=value)

    def to_dict(self) -> dict[str, Any]:
        """Every field, with a password in ``base_url`` redacted (this is what run folders record)."""
        data = asdict(self)
        data["base_url"] = redact_url(self.base_url) if self.base_url else self.base_url
        return data


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
        return self.models[name].with_base_url()


def load_models_config(path: str | Path) -> ModelsConfig:
    """Read and validate models.yaml; every problem is a one-line ConfigError naming the file and line."""
    path = Path(path)
    raw = read_input(path, "models config", error=ConfigError, max_bytes=10 * 2**20)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    data = load_yaml(text, path)
    if not isinstance(data, LinedMap):
        raise ConfigError(f"{path}: expected a mapping with 'default' and 'models'")
    _no_unknown(path, "top level", data, _TOP_KEYS)
    raw_models = data.get("models")
    if not isinstance(raw_models, LinedMap) or not raw_models:
        raise ConfigError(f"{path}: line {data.line_of('models')}: 'models' must be a non-empty mapping of aliases")
    models = {str(alias): _entry(path, str(alias), spec, raw_models.line_of(alias))
              for alias, spec in raw_models.items()}
    default = data.get("default")
    if not isinstance(default, str) or default not in models:
        raise ConfigError(
            f"{path}: line {data.line_of('default')}: 'default' must name one of the aliases: "
            f"{', '.join(sorted(models))}"
        )
    _warn_url_passwords(path, raw_models)
    return ModelsConfig(path=path, default=default, models=models)


_warned: set[tuple[str, str]] = set()


def _warn_url_passwords(path: Path, raw_models: LinedMap) -> None:
    # The file is copied byte for byte into every run folder: say so (once), and how to keep the password out.
    from labnb.terminal.console import warn

    for alias, spec in raw_models.items():
        password = url_password(spec.get("base_url") or "")
        if password:
            register_secret(password)
            if (str(path), str(alias)) in _warned:
                continue
            _warned.add((str(path), str(alias)))
            warn(f"{path}: line {spec.line_of('base_url')}: models.{alias}.base_url holds a password, and "
                 "models.yaml is copied into every run folder; put the URL in an environment variable "
                 "and name it with base_url_env instead")


def _entry(path: Path, alias: str, spec: Any, line: int) -> ModelEntry:
    where = f"models.{alias}"
    if not isinstance(spec, LinedMap):
        raise ConfigError(f"{path}: line {line}: {where} must be a mapping")
    _no_unknown(path, where, spec, _MODEL_KEYS)
    at = spec.line_of
    provider = spec.get("provider")
    if provider not in PROVIDERS:
        raise ConfigError(f"{path}: line {at('provider')}: {where}.provider must be one of {', '.join(PROVIDERS)}")
    if not isinstance(spec.get("model"), str) or not spec["model"].strip():
        raise ConfigError(f"{path}: line {at('model')}: {where}: missing required field 'model'")
    if "pricing" not in spec and provider != "local":
        raise ConfigError(f"{path}: line {line}: {where}: missing required field 'pricing'")
    pricing = _pricing(path, f"{where}.pricing", spec.get("pricing") or LinedMap(), at("pricing"))
    kwargs: dict[str, Any] = {}
    for key in ("temperature", "max_retry_wait"):
        if key in spec:
            kwargs[key] = _number(path, at(key), f"{where}.{key}", spec[key], float, minimum=0)
    if "timeout" in spec:
        kwargs["timeout"] = _number(path, at("timeout"), f"{where}.timeout", spec["timeout"], float,
                                    minimum=0, positive=True, maximum=MAX_TIMEOUT_SECONDS)
    for key in ("max_tokens", "rpm", "tpm"):
        if key in spec and spec[key] is not None:
            kwargs[key] = _number(path, at(key), f"{where}.{key}", spec[key], int, minimum=1)
    if "max_retries" in spec:
        kwargs["max_retries"] = _number(path, at("max_retries"), f"{where}.max_retries", spec["max_retries"], int,
                                        minimum=0)
    for key in ("base_url", "base_url_env", "api_key_env", "description"):
        if spec.get(key) is not None:
            if not isinstance(spec[key], str):
                raise ConfigError(f"{path}: line {at(key)}: {where}.{key} must be a string")
            kwargs[key] = spec[key]
    if "base_url" in kwargs and "base_url_env" in kwargs:
        raise ConfigError(f"{path}: line {at('base_url_env')}: {where}: give base_url or base_url_env, not both")
    return ModelEntry(alias=alias, provider=provider, model=spec["model"], pricing=pricing, **kwargs)


def _pricing(path: Path, where: str, spec: Any, line: int) -> Pricing:
    if not isinstance(spec, LinedMap):
        raise ConfigError(f"{path}: line {line}: {where} must be a mapping")
    _no_unknown(path, where, spec, _PRICING_KEYS)
    values: dict[str, Any] = {}
    for key in ("input", "output"):
        if key not in spec and spec:
            raise ConfigError(f"{path}: line {spec.line}: {where}: missing required field '{key}'")
    for key in ("input", "cached_input", "cache_write", "output", "batch_discount"):
        if key in spec:
            values[key] = _number(path, spec.line_of(key), f"{where}.{key}", spec[key], float, minimum=0)
    if values.get("batch_discount", 0) >= 1:
        raise ConfigError(f"{path}: line {spec.line_of('batch_discount')}: {where}.batch_discount must be below 1 "
                          "(a fraction, e.g. 0.5)")
    if "cached_input" not in values and "input" in values:
        values["cached_input"] = values["input"]
    as_of = spec.get("prices_as_of", "")
    values["prices_as_of"] = as_of.isoformat() if isinstance(as_of, dt.date) else str(as_of)
    return Pricing(**values)


def _number(path: Path, line: int, where: str, value: Any, kind: type, *, minimum: float,
            positive: bool = False, maximum: float | None = None) -> Any:
    prefix = f"{path}: line {line}: {where}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{prefix} must be a number, got {value!r}")
    if not math.isfinite(value):  # NaN slips past every comparison: cost $nan, budget off
        raise ConfigError(f"{prefix} must be a finite number, got {value!r}")
    if kind is int and int(value) != value:
        raise ConfigError(f"{prefix} must be a whole number, got {value!r}")
    if positive and value <= 0:
        raise ConfigError(f"{prefix} must be above 0, got {value!r}")
    if value < minimum:
        raise ConfigError(f"{prefix} must be at least {minimum}, got {value!r}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{prefix} must be at most {maximum:g}, got {value:g}")
    return kind(value)


def _no_unknown(path: Path, where: str, spec: LinedMap, allowed: set[str]) -> None:
    unknown = sorted(set(map(str, spec)) - allowed)
    if unknown:
        line = next((spec.line_of(k) for k in spec if str(k) == unknown[0]), spec.line)
        raise ConfigError(
            f"{path}: line {line}: {where}: unknown key '{unknown[0]}' (allowed: {', '.join(sorted(allowed))})"
        )
