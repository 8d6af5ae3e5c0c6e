"""The local model on a task that indexes its choices itself (``Task.ranker``, e.g. thousands of nodes of a
label tree): zero-shot on the index's scores, or learned from the examples (``labnb.local.ranked_learner``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from labnb.classify.similarity import item_texts
from labnb.fewshot.examples import Example, ExampleItem
from labnb.local.learner import learned_from
from labnb.local.ranked_learner import DECIMALS, OTHERS, TEMPERATURE, RankedLearner, fit_ranked
from labnb.local.retrieval import best
from labnb.task import Choice, Item, Ranker

ZERO_SHOT = ("the task's own index of its choices (Task.ranker): score = the index's similarity of the item's full "
             "text to each choice; raw_response holds the top 3")
LEARNED = (f"with --examples: logistic regression on the examples' embeddings and TF-IDF word and character "
           f"n-grams (labnb.local.learner) over the "
           f"choices with examples plus each item's {OTHERS} best-scoring others, mixed with "
           f"softmax(score / {TEMPERATURE}) over the same columns and calibrated; score = that probability")


class RankedScorer:
    """Ranks ``ranker``'s choices for items; learns from ``examples`` (those it may use) on first use."""

    def __init__(self, ranker: Ranker, choices: dict[int, Choice], examples: Sequence[Example]) -> None:
        self.ranker = ranker
        self.choices = choices
        self.examples = list(examples)
        self._learner: RankedLearner | None = None

    @property
    def embedder(self) -> Any:
        return self.ranker.index.embedder

    def learner(self) -> RankedLearner | None:
        """The learner fitted on the examples (once; deterministic), or None without examples."""
        if self._learner is None and self.examples:
            column = {self.choices[code].id: j for j, code in enumerate(self.ranker.codes)}
            texts = [item_texts(ExampleItem.of(e))["full"] for e in self.examples]
            vectors, scores = self._scores(texts)
            self._learner = fit_ranked(vectors, [column[e.label] for e in self.examples], scores, texts=texts)
        return self._learner

    def rank(self, items: Sequence[Item], top: int) -> tuple[list[list[tuple[Choice, float]]], list[str]]:
        """Per item its ``top`` choices, best first, with their scores (probabilities when learned); and the
        texts embedded for the items."""
        texts = [item_texts(item)["full"] for item in items]
        vectors, scores = self._scores(texts)
        learner = self.learner()
        if learner is None:
            ranked = [[(int(j), round(float(row[j]), DECIMALS)) for j in columns]
                      for row, columns in zip(scores, best(scores, top))]
        else:
            ranked = learner.top(vectors, scores, top, texts)
        return [[(self.choices[self.ranker.codes[j]], s) for j, s in row] for row in ranked], texts

    def templates(self) -> dict[str, Any]:
        learner = self.learner()
        if learner is None:
            return {"method": ZERO_SHOT}
        return {"method": ZERO_SHOT, "learning": {"summary": LEARNED, **learned_from(learner.record())}}

    def _scores(self, texts: list[str]) -> tuple[Any, Any]:
        vectors = self.ranker.index.encode(texts)
        return vectors, self.ranker.index.scores(vectors, self.ranker.pool)
