"""classify-text: the generic ``classify`` task with the sentiment label set as its default."""

from __future__ import annotations

from dataclasses import dataclass

from labnb.flat.task import Classify, ClassifyOptions
from labnb.run.options import PROJECT_ROOT

DEFAULT_LABELS = PROJECT_ROOT / "config" / "labels" / "sentiment.yaml"


@dataclass(frozen=True)
class ClassifyTextOptions(ClassifyOptions):
    labels: str | None = str(DEFAULT_LABELS)


class ClassifyText(Classify):
    """classify with the sentiment label set by default (python src/run_classify_text.py)."""

    name = "classify-text"
    script = "python src/run_classify_text.py"
    options_class = ClassifyTextOptions


TASK = ClassifyText
