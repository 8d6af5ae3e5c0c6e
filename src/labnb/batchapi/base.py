"""The interface of a provider's batch API, and the records of a submitted batch and of its results."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from labnb.clients.base import ChatResponse
from labnb.clients.sdk_errors import map_sdk_error
from labnb.config import ModelEntry
from labnb.errors import CallError, RunAborted

T = TypeVar("T")
ERROR_TYPES = ("batch_expired", "batch_cancelled", "batch_errored")
TRANSIENT = ("rate_limit", "server_error", "timeout", "connection")
# A part moves pending -> creating -> submitted -> ended -> downloaded -> settled; "creating" means
# the create call may or may not have reached the provider, so its list of batches decides.
STATES = ("pending", "creating", "submitted", "ended", "downloaded", "settled")


class BatchAPIError(RunAborted):
    """A batch-API call failed after the SDK's retries; ``transient`` ones are worth trying again later."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


@dataclass
class BatchPart:
    """One provider batch of a run: its requests file, ids and state, as recorded in the manifest."""

    index: int
    requests_file: str
    items_file: str
    count: int
    size_bytes: int
    submission: int = 1
    state: str = "pending"
    file_id: str = ""
    batch_id: str = ""
    intent_at: str = ""  # just before the create call: bounds the search of the provider's list
    provider_status: str = ""
    created_at: str = ""
    ended_at: str = ""
    done: int = 0
    failed: int = 0
    error: str = ""
    remote_files: dict[str, str] = field(default_factory=dict)  # provider file ids of results, by kind
    result_files: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BatchPart:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class ItemResult:
    """One request's result: a response, or an ``error_type`` (batch_expired/cancelled/errored, bad_response)."""

    custom_id: str
    response: ChatResponse | None = None
    error_type: str = ""
    error: str = ""
    answered: bool = False  # a bad_response the provider answered (and billed): ``usage`` as it reported it
    usage: Any = None  # a ``Usage``, or None when unknown


class BatchProvider(ABC):
    """One provider's batch API through its official (synchronous) SDK; each method is one step."""

    name: str = ""
    max_requests: int = 0
    max_bytes: int = 0
    ended_statuses: tuple[str, ...] = ()
    uploads: bool = False  # True: ``upload`` must run (once) before ``create``

    def __init__(self, entry: ModelEntry) -> None:
        self.entry = entry

    @abstractmethod
    def line(self, custom_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """One line of the requests file for a synchronous request ``body``."""

    def upload(self, part: BatchPart, path: Path) -> None:
        """Make the part's requests available to ``create`` (OpenAI uploads a file; sets ``part.file_id``)."""

    @abstractmethod
    def create(self, part: BatchPart, path: Path, metadata: dict[str, str]) -> None:
        """Create the batch; sets ``part.batch_id`` and its first status."""

    @abstractmethod
    def find(self, part: BatchPart, metadata: dict[str, str], known: set[str]) -> str | None:
        """The id of a batch already created for ``part`` (a crash lost the answer), from the provider's list."""

    @abstractmethod
    def refresh(self, part: BatchPart) -> None:
        """Retrieve the batch: update status, counts and end time of ``part``."""

    @abstractmethod
    def download(self, part: BatchPart, directory: Path) -> list[str]:
        """Save the raw result files of an ended batch in ``directory``; returns their names."""

    def results(self, part: BatchPart, directory: Path) -> Iterator[ItemResult]:
        """Every item of the part's downloaded result files, as our records."""
        from labnb.batchapi.files import iter_lines

        for name in part.result_files:
            for line in iter_lines(directory / name):
                yield self.item(line)

    @abstractmethod
    def item(self, line: dict[str, Any]) -> ItemResult:
        """One line of a provider's results file, as our record."""

    def missing(self, part: BatchPart, custom_id: str) -> ItemResult:
        """The result of a request the provider returned nothing for."""
        kind = {"expired": "batch_expired", "cancelled": "batch_cancelled", "canceled": "batch_cancelled"}.get(
            part.provider_status, "batch_errored")
        message = part.error or f"the batch ended '{part.provider_status}' without a result for this request"
        return ItemResult(custom_id, error_type=kind, error=message)

    def ended(self, part: BatchPart) -> bool:
        return part.provider_status in self.ended_statuses

    def close(self) -> None:
        """Release the SDK client."""

    def call(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run one SDK call; its errors become ``BatchAPIError`` (or the run-stopping key/quota errors)."""
        sdk = self.sdk()
        try:
            return fn(*args, **kwargs)
        except sdk.APIError as exc:
            mapped = map_sdk_error(exc, sdk, self.entry)
            if isinstance(mapped, CallError):
                raise BatchAPIError(f"{self.name} batch API: {what} failed: {mapped.message}",
                                    transient=mapped.error_type in TRANSIENT) from None
            raise mapped from None

    @abstractmethod
    def sdk(self) -> Any:
        """The SDK module (for its exception classes)."""
