"""Exceptions of the run framework.

Every error the CLI expects derives from ``LabError`` and carries its exit code::

    LabError                    (exit 1)
    ├── UsageError              (exit 2)  bad command line
    ├── ConfigError             (exit 2)  models.yaml or other configuration
    │   └── MissingKeyError     (exit 2)  API key variable not set
    ├── InputError              (exit 2)  items, label files or run-folder input
    └── RunAborted              (exit 3)  the run cannot go on at all
        ├── AuthenticationFailed          the provider refused the key
        └── QuotaExhausted                the account has no credit left

``CallError`` is not a ``LabError``: it is one failed model call, recorded on the
item rows it affects (``error_type``) while the run goes on.
"""

from __future__ import annotations

from typing import Any


class LabError(Exception):
    """Root of the errors the CLI turns into a one-line message and an exit code."""

    exit_code = 1


class UsageError(LabError):
    exit_code = 2


class ConfigError(LabError):
    exit_code = 2


class MissingKeyError(ConfigError):
    pass


class InputError(LabError):
    exit_code = 2


class RunAborted(LabError):
    exit_code = 3


class AuthenticationFailed(RunAborted):
    pass


class QuotaExhausted(RunAborted):
    pass


class CallError(Exception):
    """One model call failed; ``error_type`` is one of the documented row error types."""

    def __init__(self, error_type: str, message: str, *, retries: int = 0, raw: str = "", answered: bool = False,
                 usage: Any = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.retries = retries
        self.raw = raw
        # A server that answered (HTTP 200) with a body we cannot use has still billed the call: ``usage`` is
        # what it reported (a ``Usage``), None when it reported nothing usable.
        self.answered = answered
        self.usage = usage
