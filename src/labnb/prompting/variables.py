"""The variables a prompt template may use, and the generic answer-format sentence.

System template (the cached prefix, identical for every request of a run):

* ``labels``        the numbered label listing, as the use case's built-in prompt renders it
* ``choices``       the numbered choices: list of {k, id, name, description, group}
* ``examples``      the fixed examples (``--shot-selection fixed``), else empty: list of
                    {id, text, fields, k, label}; ``fields`` is a list of [name, value]
* ``answer_format`` the answer instructions the task owns (appended when no template uses it)
* ``item_noun``     the use case's word for an item
* ``choice_noun``   the use case's word for a choice (e.g. label)
* ``explain``       true with ``--explain``
* plus the use case's own (``Task.prompt_extra_variables``)

User template: all of the above, and

* ``items``         the batch: list of {n, id, text, fields}, numbered from 1
* ``count``         the number of items
* ``examples``      the examples chosen for this batch (knn, random); empty with fixed
"""

from __future__ import annotations

from labnb.answers import answer_shape

SYSTEM_VARIABLES = frozenset({"labels", "choices", "examples", "answer_format", "item_noun", "choice_noun",
                              "explain"})
USER_VARIABLES = SYSTEM_VARIABLES | {"items", "count"}


def answer_format_text(item_noun: str, choice_noun: str, *, explain: bool = False) -> str:
    """The instructions for the numbered answer format {"r":[{"n":…,"k":…}]}."""
    return (f"Answer with JSON only, one entry per {item_noun}, in the form {answer_shape(explain)}, where n is the "
            f"{item_noun}'s number as given and k the number of its {choice_noun}.")
