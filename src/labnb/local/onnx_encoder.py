"""A sentence encoder on ONNX Runtime (CPU): a BERT exported to ONNX → mean pooling → L2 normalization.

The model file and the tokenizer come from installed packages (``labnb.local.model_files``); this module
needs ``onnxruntime``, ``tokenizers`` and numpy only, never torch. It offers the small interface
``labnb.local.embedder`` uses: ``tokenizer``, ``max_seq_length``, ``features`` and a call on them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

ARCHITECTURE = "bert (ONNX), mean pooling, L2-normalized"


class OnnxEncoder:
    """One ONNX Runtime session, single-threaded per call: ``labnb.local.embedder`` runs calls on worker threads."""

    def __init__(self, model_file: Path, tokenizer_file: Path, max_seq_length: int, dimension: int,
                 model_sha256: str | None = None) -> None:
        """``model_sha256`` (the verified file's): open the optimized copy kept in labnb's cache (``folded_model``)."""
        import onnxruntime
        from tokenizers import Tokenizer

        from labnb.local.folded_model import folded_model

        graph = folded_model(model_file, model_sha256) if model_sha256 else model_file

        options = onnxruntime.SessionOptions()
        # One thread per call: on two cores two concurrent single-threaded calls beat one call on two threads,
        # whose synchronization dominates on matrices this small.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        # No arena: ORT's CPU arena keeps the largest activations of every batch for the process's life (the
        # 10,000-title run's peak RSS grew by ~60 MB with it); freed tensors go back to malloc instead.
        options.enable_cpu_mem_arena = False
        options.log_severity_level = 3
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        # No memory patterns: ORT keeps one per input shape it has seen, and batches of one token length come
        # in many shapes, so the process grew with every new one (398 -> 495 MB over 16,000 titles; 385 -> 417
        # MB without). Measurements: docs/guides/scale-with-ray.md, "Memory".
        options.enable_mem_pattern = False
        self.session = onnxruntime.InferenceSession(str(graph), sess_options=options,
                                                    providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}
        missing = {"input_ids", "attention_mask"} - self.inputs
        if missing:
            raise ValueError(f"{model_file.name}: not a BERT encoder export (no input {sorted(missing)[0]})")
        self.max_seq_length = max_seq_length
        self.dimension = dimension
        self.tokenizer = _Tokenizer(Tokenizer.from_file(str(tokenizer_file)), max_seq_length)

    def get_sentence_embedding_dimension(self) -> int:
        return self.dimension

    def features(self, ids: list[list[int]]) -> dict[str, Any]:
        """Inputs for texts of one token length: nothing is padded (see ``Embedder.encode``), so every mask is 1
        and every token counts in the mean."""
        import numpy as np

        lengths = {len(row) for row in ids}
        if len(lengths) != 1:
            raise ValueError(f"a batch holds texts of one token length, not {sorted(lengths)}")
        input_ids = np.asarray(ids, dtype=np.int64)
        feeds = {"input_ids": input_ids, "attention_mask": np.ones_like(input_ids)}
        if "token_type_ids" in self.inputs:
            feeds["token_type_ids"] = np.zeros_like(input_ids)
        return feeds

    def __call__(self, features: dict[str, Any]) -> dict[str, Any]:
        """``{"sentence_embedding": (batch, hidden) float32}``, each row of unit length."""
        import numpy as np

        hidden = self.session.run(None, features)[0]
        pooled = hidden.mean(axis=1, dtype=np.float32)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return {"sentence_embedding": pooled / np.maximum(norms, 1e-12)}


class _Tokenizer:
    """The fast tokenizer, cut at ``max_length``; called like a Hugging Face tokenizer for token counts."""

    def __init__(self, backend: Any, max_length: int) -> None:
        backend.no_padding()
        backend.enable_truncation(max_length)
        self.backend, self.max_length = backend, max_length

    def __call__(self, texts: str | list[str], *, truncation: bool = True, max_length: int | None = None,
                 add_special_tokens: bool = True) -> dict[str, Any]:
        if not (truncation and add_special_tokens and max_length in (None, self.max_length)):
            raise ValueError("only truncated token counts with special tokens are offered")
        if isinstance(texts, str):  # one text, as a Hugging Face tokenizer takes it
            return {"input_ids": self.backend.encode(texts).ids}
        return {"input_ids": [e.ids for e in self.backend.encode_batch(list(texts))]}
