"""The int8 model as ONNX Runtime optimizes it (its weights folded to fp32), saved once in labnb's cache.

Opening the int8 file, ONNX Runtime folds each weight's Cast and scale into an fp32 constant: 90 MB of fp32
weights, and about 170 MB of transient copies on the way, the peak memory of a whole local run. Opening the saved
optimized graph skips the folding: its weights are read from one file that the session maps, and the peak of a
10,000-title run drops by about 100 MB (benchmarks/local_encoders_results.md). It is ONNX Runtime's own output
for this file and this version, so the vectors are the same bit for bit (tests/local/test_folded_model.py).

The copy is keyed by the int8 file's sha256 and ONNX Runtime's version; its weights' sha256 is checked at every
load, and a copy that differs, or a cache that cannot be written, means the int8 file is opened as before.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from labnb.store.cachedir import cache_dir
from labnb.store.runfolder import sha256_file

GRAPH, WEIGHTS, DIGEST = "model.onnx", "weights.bin", "weights.sha256"


def folded_model(model_file: Path, model_sha256: str) -> Path:
    """The saved optimized graph of ``model_file`` (built now if missing), else ``model_file`` itself."""
    import onnxruntime

    folder = cache_dir("onnx") / f"{model_sha256[:32]}-ort{onnxruntime.__version__}"
    try:
        if not _intact(folder):
            _build(model_file, folder)
        if _intact(folder):
            return folder / GRAPH
    except OSError:  # a read-only or full cache: the int8 file works as well, with a higher peak
        pass
    return model_file


def _intact(folder: Path) -> bool:
    try:
        expected = (folder / DIGEST).read_text(encoding="ascii").strip()
    except OSError:
        return False
    return (folder / GRAPH).is_file() and sha256_file(folder / WEIGHTS) == expected


def _build(model_file: Path, folder: Path) -> None:
    """ONNX Runtime's optimized graph with its weights in one file; written aside, then renamed into place."""
    import onnxruntime

    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".building-", dir=folder.parent))
    try:
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        # EXTENDED, not ALL: ALL adds layout changes for this machine's CPU, which ORT advises not to save
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        options.optimized_model_filepath = str(work / GRAPH)
        options.add_session_config_entry("session.optimized_model_external_initializers_file_name", WEIGHTS)
        options.add_session_config_entry("session.optimized_model_external_initializers_min_size_in_bytes", "1024")
        onnxruntime.InferenceSession(str(model_file), sess_options=options, providers=["CPUExecutionProvider"])
        (work / DIGEST).write_text(sha256_file(work / WEIGHTS) + "\n", encoding="ascii")
        if folder.exists():  # a copy that failed its check
            shutil.rmtree(folder, ignore_errors=True)
        with contextlib.suppress(OSError):  # another process put its copy there first: the same bytes
            os.rename(work, folder)
    finally:
        shutil.rmtree(work, ignore_errors=True)
