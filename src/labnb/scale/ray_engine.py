"""``--engine ray``: the parts of a streamed run as a Ray Data pipeline.

The pipeline is the plan's parts (``from_items``), ``map_batches`` with ``RayPartWorker`` (a callable
class: each actor unpickles the model fitted on the driver once, loading the encoder once) on an actor pool
of ``--concurrency`` actors (``auto``: from 1 up to the cluster's CPUs), each actor reading its parts from
the input and writing their Parquet files into the run folder. The driver only receives each part's
record (its counts), so its memory stays flat however large the input.

``--ray-address`` (or ``RAY_ADDRESS``) joins a running cluster, whose nodes must see the input and the run
folder at the same paths (a shared filesystem); without it a local Ray starts on this machine's cores.
"""

from __future__ import annotations

import io
import json
import logging
import os
import pickle
import queue
import signal
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from labnb.errors import UsageError
from labnb.local.embedder import load_embedder
from labnb.prompting.files import PromptFile
from labnb.run.options import RunOptions
from labnb.scale.source import Part
from labnb.scale.work import Context, PartWorker

INSTALL = "--engine ray needs Ray Data and pyarrow: pip install '.[ray]' (or pip install -r requirements-dev.txt)"
TEMP_DIR = Path(tempfile.gettempdir()) / "labnb-ray"  # short: Ray's socket paths must fit in 107 bytes


def require_ray() -> None:
    """A one-line error naming what to install when Ray Data or pyarrow is missing."""
    try:
        import pyarrow  # noqa: F401
        import ray.data  # noqa: F401
    except ImportError:
        raise UsageError(INSTALL) from None


class _Pickler(pickle.Pickler):
    """Pickles the fitted classifier without its encoder: each process loads that itself (``load_embedder``)."""

    def __init__(self, file: io.BytesIO, embedders: dict[int, str]) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.embedders = embedders

    def persistent_id(self, obj: Any) -> str | None:
        return self.embedders.get(id(obj))

    def reducer_override(self, obj: Any) -> Any:
        # A prompt file's compiled templates hold jinja's loader and caches, which do not pickle; the local
        # model renders no prompt, so a worker gets the file (bytes, sources) without them.
        if isinstance(obj, PromptFile):
            return PromptFile, (obj.path, obj.raw, obj.sources, obj.first_lines, obj.appends_answer_format)
        return NotImplemented


class _Unpickler(pickle.Unpickler):
    def persistent_load(self, pid: Any) -> Any:
        return load_embedder(pid)  # once per process: load_embedder caches it


def pack(classifier: Any, context: Context) -> bytes:
    """The fitted classifier and the workers' context, as bytes to ship (the encoder by package name)."""
    package = classifier.package
    buffer = io.BytesIO()
    _Pickler(buffer, {id(load_embedder(package)): package}).dump((classifier, context))
    return buffer.getvalue()


def unpack(blob: bytes) -> PartWorker:
    classifier, context = _Unpickler(io.BytesIO(blob)).load()
    return PartWorker(classifier, context)


class RayPartWorker:
    """The callable class of ``map_batches``: built once per actor, then called with batches of parts."""

    def __init__(self, blob: Any) -> None:
        import ray

        self.worker = unpack(ray.get(blob) if isinstance(blob, ray.ObjectRef) else blob)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[str]]:
        records = [self.worker.run(Part.from_dict(json.loads(spec))) for spec in batch["part"]]
        return {"record": [json.dumps(r, sort_keys=True) for r in records]}


def connect(address: str | None) -> None:
    """Join the cluster at ``address`` (or RAY_ADDRESS), else start a local Ray on this machine's cores."""
    import ray

    _notices_to_stderr()
    if ray.is_initialized():
        return
    src = str(Path(__file__).resolve().parents[2])  # workers import labnb as this process does
    runtime_env = {"env_vars": {"PYTHONPATH": os.pathsep.join([src, *os.environ.get("PYTHONPATH", "").split(
        os.pathsep)]).rstrip(os.pathsep)}}
    address = address or os.environ.get("RAY_ADDRESS") or None
    # Ray's own notices (its C++ core, the data executor) would break the progress bar and the summary line.
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "error")
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.ERROR)
    settings: dict[str, Any] = {"runtime_env": runtime_env, "logging_level": logging.ERROR,
                                "log_to_driver": False}
    if address:
        try:
            ray.init(address=address, **settings)
        except ConnectionError as exc:
            raise UsageError(f"--ray-address {address}: cannot join the Ray cluster: {exc}") from None
    else:
        TEMP_DIR.mkdir(parents=True, exist_ok=True)
        # Ray starts workers at nice 15 by default: on a machine shared with other work the actors would get
        # a sliver of the CPU. A local Ray here exists for this run only: its actors run at normal priority.
        os.environ.setdefault("RAY_worker_niceness", "0")
        ray.init(num_cpus=os.cpu_count() or 1, include_dashboard=False, _temp_dir=str(TEMP_DIR), **settings)


def _notices_to_stderr() -> None:
    """Ray prints its notices (an actor died, its task is retried) on the driver's stdout, which holds only
    labnb's summary line: they go to stderr, beside the progress bar."""
    from ray._private import worker

    original = getattr(worker, "print_to_stdstream", None)
    if original is None or getattr(original, "labnb", False):
        return

    def to_stderr(data: dict[str, Any], ignore_prefix: bool) -> None:
        original({**data, "is_err": True}, ignore_prefix)

    to_stderr.labnb = True  # type: ignore[attr-defined]
    worker.print_to_stdstream = to_stderr


def run_parts(classifier: Any, context: Context, todo: list[Part], options: RunOptions) -> Iterator[dict[str, Any]]:
    """Each part's record as its part lands (in the order they finish)."""
    if not todo:
        return
    import ray
    import ray.data

    connect(getattr(options, "ray_address", None))
    data_context = ray.data.DataContext.get_current()
    data_context.enable_progress_bars = False  # labnb's own bar counts items
    blob = ray.put(pack(classifier, context))
    size = options.concurrency
    compute = (ray.data.ActorPoolStrategy(size=min(size, len(todo))) if isinstance(size, int)
               else ray.data.ActorPoolStrategy(min_size=1, max_size=max(1, int(ray.cluster_resources().get("CPU", 1)))))
    dataset = ray.data.from_items([{"part": json.dumps(p.to_dict())} for p in todo], override_num_blocks=len(todo))
    results = dataset.map_batches(RayPartWorker, fn_constructor_args=(blob,), batch_size=1, compute=compute,
                                  num_cpus=1)
    # Ray's blocking waits do not let Ctrl-C through to this thread: results are pumped by another thread
    # and waited for here, where SIGINT raises KeyboardInterrupt (the run then ends "interrupted").
    landed: queue.Queue[tuple[str, Any]] = queue.Queue()

    def pump() -> None:
        try:
            for row in results.iter_rows():
                landed.put(("record", json.loads(row["record"])))
            landed.put(("end", None))
        except BaseException as exc:  # handed to the driver's thread, which raises it
            landed.put(("error", exc))

    threading.Thread(target=pump, name="labnb-ray-results", daemon=True).start()
    while True:
        # Ray's core takes SIGINT over once the pipeline runs: hand it back to Python every second.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            kind, value = landed.get(timeout=1.0)
        except queue.Empty:
            continue
        if kind == "end":
            return
        if kind == "error":
            raise value
        yield value
