"""Prose that holds on every run: a lesson's sentence about a measured result is checked against that result.

A lesson that writes "int4 decodes faster than fp32" under a benchmark puts, in the cell that measures it::

    claim(speed["int4"] > speed["fp32"], "int4 decodes faster than fp32")

When a later run (another machine, another version, a rebuilt model) makes the sentence false, the notebook
stops there with a ``ClaimError`` that quotes the sentence, so the test suite fails instead of the lesson lying.
A sentence whose numbers can be printed is better printed from the run; ``claim`` is for the words around them.
"""

from __future__ import annotations


class ClaimError(AssertionError):
    """A sentence of the lesson is no longer true of this run's numbers."""


def claim(condition: bool, sentence: str) -> None:
    """Stop the lesson when `sentence`, which the lesson says about this run, is false for this run."""
    if not condition:
        from course_lib.i18n import t

        raise ClaimError(t("The lesson says: “{sentence}”, but this run's numbers disagree. The text needs updating "
                           "(or something changed the result: a rebuilt model, a new version, an unusual machine).",
                           sentence=sentence))
