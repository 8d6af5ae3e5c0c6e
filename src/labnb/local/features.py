"""What the learner sees of a text: its sentence embedding and lexical features fitted on the examples.

Short item texts (titles) carry brand names, units and pack words that a sentence embedding blurs; TF-IDF over word 1-2
grams and character 3-5 grams (within word boundaries) keeps them. The vocabularies and their idf weights are
fitted on the example texts only (no labels), so the same examples give the same features, bit for bit; the
record names each block with its vocabulary size and a sha256 of its terms and idf weights.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

WORD_NGRAMS = (1, 2)
CHAR_NGRAMS = (3, 5)
TOKENS = r"(?u)\b\w+\b"  # one-character words too: the "2" of "2 lb", the "g" of "500 g"
EMBEDDING_WEIGHT = 1.0  # each block's rows have unit L2 norm; this scales the embedding block against the two others


@dataclass
class LexicalFeatures:
    """TF-IDF word and character n-grams (scikit-learn), fitted on example texts; rows are L2-normalized."""

    word: Any
    char: Any
    embedding_weight: float = EMBEDDING_WEIGHT

    @classmethod
    def fit(cls, texts: Sequence[str], embedding_weight: float = EMBEDDING_WEIGHT) -> LexicalFeatures:
        from sklearn.feature_extraction.text import TfidfVectorizer

        word = TfidfVectorizer(ngram_range=WORD_NGRAMS, sublinear_tf=True, token_pattern=TOKENS, dtype=_float64())
        char = TfidfVectorizer(analyzer="char_wb", ngram_range=CHAR_NGRAMS, sublinear_tf=True, dtype=_float64())
        texts = [text or " " for text in texts]  # an empty text has no n-gram; a vocabulary needs one somewhere
        if not any(any(ch.isalnum() for ch in text) for text in texts):
            texts = [*texts, "a"]
        return cls(word.fit(texts), char.fit(texts), embedding_weight)

    def transform(self, vectors: Any, texts: Sequence[str]) -> Any:
        """(texts x features) sparse CSR matrix: weighted embeddings, word n-grams, character n-grams."""
        import numpy as np
        import scipy.sparse as sparse

        texts = list(texts)
        if len(texts) != len(vectors):
            raise ValueError(f"{len(vectors)} vectors for {len(texts)} texts")
        dense = sparse.csr_matrix(np.asarray(vectors, dtype=np.float64) * self.embedding_weight)
        return sparse.hstack([dense, self.word.transform(texts), self.char.transform(texts)], format="csr")

    def record(self, embedding_dim: int) -> dict[str, Any]:
        """Each block: what it is, its size and, for the vocabularies, the sha256 of terms and idf weights."""
        return {
            "embedding": {"kind": "sentence embedding", "size": embedding_dim, "weight": self.embedding_weight},
            "word_tfidf": _vocabulary_record(self.word, "word n-grams", WORD_NGRAMS),
            "char_tfidf": _vocabulary_record(self.char, "character n-grams within word boundaries", CHAR_NGRAMS),
        }


def _vocabulary_record(vectorizer: Any, kind: str, ngrams: tuple[int, int]) -> dict[str, Any]:
    terms = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.get)
    digest = hashlib.sha256(json.dumps(terms, ensure_ascii=False).encode("utf-8"))
    digest.update(vectorizer.idf_.astype("<f8").tobytes())
    return {"kind": f"TF-IDF {kind}", "ngram_range": list(ngrams), "sublinear_tf": True, "lowercase": True,
            **({"token_pattern": vectorizer.token_pattern} if vectorizer.analyzer == "word" else {}),
            "vocabulary_size": len(terms), "sha256": digest.hexdigest(), "fitted_on": "the example texts"}


def _float64() -> Any:
    import numpy as np

    return np.float64
