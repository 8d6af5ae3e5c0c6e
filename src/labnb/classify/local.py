"""The ``local`` provider: zero-shot classification with an offline sentence-embedding model ($0).

One ``classify`` call encodes a whole batch in a worker thread and records one CallRecord;
the scoring itself lives in ``embedding_scoring``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Sequence
from typing import Any, Literal

from labnb.classify.base import Classifier
from labnb.classify.ranked import RankedScorer
from labnb.classify.similarity import FIELD_CHARS, ITEM_VIEWS, ChoiceIndex, Design, choice_index, score_items
from labnb.config import ModelEntry
from labnb.cost.usage import Usage
from labnb.errors import LabError
from labnb.fewshot.examples import Example, ExampleItem
from labnb.local.embedder import DEFAULT_PACKAGE, Embedder, load_embedder
from labnb.local.learner import FittedLearner, LearnerSettings, fit_learner, learned_from, require_scikit_learn
from labnb.store.calls import CallRecord
from labnb.store.results import BatchOutcome, ItemResult
from labnb.store.timeutil import utc_now
from labnb.task import Item, Task

INTERNAL_BATCH = 256
TOP_K = 3
DECIMALS = 6
INLINE_TEXTS = 20  # calls with at most this many texts record the texts themselves


class EmbeddingClassifier(Classifier):
    """Picks the choice nearest to each item in embedding space."""

    def __init__(self, entry: ModelEntry, task: Task, *, design: Design | None = None,
                 embedder: Embedder | None = None, package: str = DEFAULT_PACKAGE) -> None:
        super().__init__(entry)
        self.task = task
        self.design = design or Design()
        self.package = package
        self._embedder = embedder
        self._index: ChoiceIndex | None = None
        prompting = getattr(task, "prompting", None)
        self.examples = prompting.examples if prompting is not None else None  # --examples: learn from them
        if self.examples is not None:
            require_scikit_learn()  # refused before the run starts, not when the first batch needs the learner
        self._learner: FittedLearner | None = None
        self._ranked: RankedScorer | Literal[False] | None = None

    @property
    def embedder(self) -> Embedder:
        """The model, loaded on first use (once per process, see ``load_embedder``)."""
        if self._embedder is None:
            self._embedder = load_embedder(self.package)
        return self._embedder

    def batch_size(self, requested: int) -> int:
        return INTERNAL_BATCH  # encoding is cheap per item; large batches amortize the overhead

    def index(self) -> ChoiceIndex:
        """The choices' vectors (built on first use; shared by classifiers of the same choices)."""
        if self._index is None:
            self._index = choice_index(self.embedder, list(self.task.choices().values()), self.design)
        return self._index

    def ranked(self) -> RankedScorer | None:
        """The scorer of a task that indexes its choices itself (``Task.ranker``; loaded on first use), or None."""
        if self._ranked is None:
            ranker = self.task.ranker()
            self._ranked = RankedScorer(ranker, self.task.choices(), self.learning_examples()) if ranker else False
        return self._ranked or None

    def learning_examples(self) -> list[Example]:
        """The examples the model learns from: all but those that match an item of the run (the leakage guard)."""
        prompting = self.task.prompting
        if self.examples is None or prompting is None:
            return []
        left_out = set(prompting.leakage.example_indexes)
        return [e for i, e in enumerate(self.examples.examples) if i not in left_out]

    async def classify(self, items: Sequence[Item]) -> BatchOutcome:
        items = list(items)
        # A task that indexes its choices itself (a deep label tree) loads its index on this first call.
        if await asyncio.to_thread(self.ranked) is not None:
            return await self._classify_ranked(items)
        index = await asyncio.to_thread(self.index)  # model load and choice vectors: once, not per call
        started, clock = utc_now(), time.perf_counter()
        try:
            probs, texts, tokens = await asyncio.to_thread(self._score, items)
        except LabError:
            raise
        except Exception as exc:  # a runtime failure of torch fails this batch, not the whole run
            return self._failed(items, started, round((time.perf_counter() - clock) * 1000, 3), exc)
        call = self._record(items, started, clock, texts, tokens)
        results = [self._result(index, p, row, call, len(items)) for p, row in zip(items, probs)]
        call.response = f"{len(results)} items scored"
        return BatchOutcome(results=results, calls=[call])

    async def _classify_ranked(self, items: list[Item]) -> BatchOutcome:
        ranked = self.ranked()
        assert ranked is not None
        started, clock = utc_now(), time.perf_counter()
        try:
            tops, texts = await asyncio.to_thread(ranked.rank, items, TOP_K)
            tokens = await asyncio.to_thread(ranked.embedder.count_tokens, texts)
        except LabError:
            raise
        except Exception as exc:  # a runtime failure of torch fails this batch, not the whole run
            return self._failed(items, started, round((time.perf_counter() - clock) * 1000, 3), exc)
        call = self._record(items, started, clock, texts, tokens)
        results = []
        for item, top in zip(items, tops):
            entries = [{**choice.answer, "score": score} for choice, score in top]
            results.append(ItemResult(
                item.item_id, answer=dict(top[0][0].answer), status="ok",
                raw_response=json.dumps({"top": entries}, separators=(",", ":"), sort_keys=True),
                confidence=float(top[0][1]), latency_ms=round(call.latency_ms / len(items), 3),
                call_id=call.call_id))
        call.response = f"{len(results)} items scored"
        return BatchOutcome(results=results, calls=[call])

    def _record(self, items: list[Item], started: str, clock: float, texts: list[str], tokens: int) -> CallRecord:
        request: dict[str, Any] = {
            "count": len(items), "texts_count": len(texts),
            "texts_sha256": hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest(),
        }
        if len(texts) <= INLINE_TEXTS:
            request["texts"] = texts
        return CallRecord(
            call_id=self.new_call_id(), item_ids=[p.item_id for p in items], started_at=started,
            latency_ms=round((time.perf_counter() - clock) * 1000, 3), status="ok", usage=Usage(input_tokens=tokens),
            request=request,
        )

    def _failed(self, items: list[Item], started: str, latency: float, exc: Exception) -> BatchOutcome:
        message = f"local model failed: {type(exc).__name__}: {exc}"[:500]
        call = CallRecord(
            call_id=self.new_call_id(), item_ids=[p.item_id for p in items], started_at=started,
            latency_ms=latency, status="error", error_type="server_error", error=message,
            request={"count": len(items)},
        )
        results = [ItemResult(p.item_id, status="error", error_type="server_error", error=message,
                                 latency_ms=latency, call_id=call.call_id) for p in items]
        return BatchOutcome(results=results, calls=[call])

    def learner(self) -> FittedLearner | None:
        """The classifier fitted on ``--examples`` (once per run; deterministic), or None without examples."""
        used = self.learning_examples() if self._learner is None else []
        if used:  # fitted once: later batches only read self._learner
            index = self.index()
            position = {choice.id: i for i, choice in enumerate(index.choices)}
            zero_shot, _ = score_items(self.embedder, index, self.design, [ExampleItem.of(e) for e in used])
            texts = [e.text for e in used]
            self._learner = fit_learner(self.embedder.encode(texts), [position[e.label] for e in used], zero_shot,
                                        texts=texts)
        return self._learner

    def _score(self, items: list[Item]) -> tuple[Any, list[str], int]:
        probs, texts = score_items(self.embedder, self.index(), self.design, items)
        learner = self.learner()
        if learner is not None:
            item_texts = [item.text for item in items]
            probs = learner.predict(self.embedder.encode(item_texts), probs, item_texts)
        return probs, texts, self.embedder.count_tokens(texts)

    @staticmethod
    def _result(index: ChoiceIndex, item: Item, row: Any, call: CallRecord, share: int) -> ItemResult:
        """One item's answer; its latency is its share of the batch call (one encoding for all of them)."""
        rounded = [round(float(x), DECIMALS) for x in row]
        # Sort on the rounded score, ties in choice order: the same input gives the same answer.
        order = sorted(range(len(rounded)), key=lambda i: (-rounded[i], i))[:TOP_K]
        top = [{**index.choices[i].answer, "score": rounded[i]} for i in order]
        return ItemResult(
            item.item_id, answer=dict(index.choices[order[0]].answer), status="ok",
            raw_response=json.dumps({"top": top}, separators=(",", ":"), sort_keys=True),
            confidence=rounded[order[0]], latency_ms=round(call.latency_ms / share, 3), call_id=call.call_id,
        )

    def prompt_templates(self) -> dict[str, Any]:
        ranked = self.ranked()
        if ranked is not None:
            return {**ranked.templates(), "task": self.task.prompt_templates()}
        index = self.index()
        learner = self.learner()
        learning = {"learning": learned_from(learner.record())} if learner is not None else {}
        return {**learning,
            "method": "zero-shot sentence-embedding similarity with a lexical component",
            "design": self.design.to_dict(),
            "item_views": dict(ITEM_VIEWS),
            "field_chars": FIELD_CHARS,
            "node_texts": index.texts,
            "example_texts": {key: items for key, items in index.example_texts.items() if items},
            "node_tokens": index.tokens,
            "score": ("cos(item, choice) + group_weight * cos(item, group)"
                      " + lexical_weight * lexical; vectors centered on the mean choice vector"),
            "confidence": "softmax(score / temperature) over all choices; raw_response holds the top 3",
        }

    def provenance(self) -> dict[str, Any]:
        if self.examples is None or not len(self.examples):
            return self.embedder.provenance()
        ranked = self.ranked()
        learner = ranked.learner() if ranked is not None else self.learner()
        learning = learner.record() if learner is not None else {"examples": 0}
        return {**self.embedder.provenance(), "learning": {
            **learning, **self.examples.record(), "settings": LearnerSettings().record(),
            "left_out_matching_the_input": len(self.examples) - len(self.learning_examples())}}
