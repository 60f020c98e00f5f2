"""Questions written apart from the corpus: how learners really ask.

The course's own held-out questions (``Corpus.qa_heldout``) are wordings the models never trained on, but they
were written next to the training wordings and share their content words. The sets in ``data/heldout/`` were
written by people who saw only the list of facts and answers (``data/heldout/FACTS.md``), never the corpus:
synonyms, other word orders, colloquial forms, typos and mixed Chinese-English terms.

* ``learners-a`` is measured after every build;
* ``learners-b`` was written the same way and kept aside, then used once, on the first rebuild's final models, to
  tell whether the builds were tuned to set A;
* ``learners-c``, written the same way later, was kept aside for the second rebuild's final check;
* ``learners-d``, written the same way before the third rebuild, for its final check
  (``python -m course_lib eval --question-sets learners-d``).

Nothing here is ever trained on: ``course_lib.corpus`` does not read ``data/heldout/``.
"""

from __future__ import annotations

import json
from functools import cache

from course_lib.corpus import QA, fact_table
from course_lib.paths import DATA_DIR

HELDOUT_DIR = DATA_DIR / "heldout"
WRITTEN_APART = {f"learners-{x}": HELDOUT_DIR / f"learners_{x}.jsonl" for x in "abcd"}  # set A, B, C, D
QUESTION_SETS = ("course", *WRITTEN_APART)  # "course": the corpus's own held-out wordings
KEPT_ASIDE = ("learners-d",)  # not measured on the shipped models yet: used once, on the next rebuild's final models


@cache
def _rows(name: str) -> tuple[dict, ...]:
    path = WRITTEN_APART[name]
    return tuple(json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip())


def load(name: str, corpus=None) -> list[QA]:
    """The questions of one set, each with its fact's reference answer and keys (for course_lib.scoring).
    "course" needs the corpus whose held-out wordings it is."""
    if name == "course":
        if corpus is None:
            from course_lib.corpus import build_corpus

            corpus = build_corpus()
        return list(corpus.qa_heldout)
    if name not in WRITTEN_APART:
        raise KeyError(f"unknown question set {name!r}: choose from {', '.join(QUESTION_SETS)}")
    facts = {(f["id"], f["lang"]): f for f in fact_table()}
    out = []
    for row in _rows(name):
        fact = facts[row["fact"], row["lang"]]
        out.append(QA(row["question"], fact["answer"], row["lang"], row["fact"], fact["keys"]))
    return out


def styles(name: str) -> dict[str, str]:
    """Each written-apart question's style, as its writer labelled it (synonym, typo, mixed, ...)."""
    return {row["question"]: row.get("style", "") for row in _rows(name)}
