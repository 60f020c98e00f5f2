"""'Check your understanding': multiple-choice quizzes with immediate feedback.

In JupyterLab a quiz is an ipywidgets form: pick an option, press Check, read
why. Where widgets cannot run (a plain notebook viewer, a rendered page) the
same cell shows the questions as text, with each answer folded away.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from course_lib.i18n import t


def first_sentence(text: str) -> str:
    """Up to the first full stop, in either language: "." ends a sentence only before a space or the end, so the
    dots of ".env", "Phi-3.5" or "3.8B" do not cut it short."""
    match = re.match(r"(.+?)(?:[.!?](?=\s|$)|[。！？])", text.strip(), re.S)
    return match.group(1) if match else text.strip()


@dataclass(frozen=True)
class Question:
    prompt: str
    options: tuple[str, ...]
    answer: int  # index of the one right option
    explanation: str

    def __post_init__(self):
        if not 0 <= self.answer < len(self.options):
            raise ValueError(f"answer index {self.answer} is outside the {len(self.options)} options of {self.prompt!r}")
        if len(set(self.options)) != len(self.options):
            raise ValueError(f"duplicate options in {self.prompt!r}")
        if not self.explanation.strip():
            raise ValueError(f"{self.prompt!r} needs an explanation")

    def feedback(self, choice: int | None) -> tuple[bool, str]:
        """Whether `choice` is right, and what to tell the learner."""
        if choice is None:
            return False, t("Pick an option first.")
        if choice == self.answer:
            return True, t("✅ Correct. {explanation}", explanation=self.explanation)
        hint = first_sentence(self.explanation)
        return False, t("❌ Not quite: “{option}” is not it. Hint: {hint}.", option=self.options[choice], hint=hint)


class Quiz:
    """A list of questions that displays as widgets, or as text where widgets don't render."""

    def __init__(self, title: str, questions: list[Question]):
        self.title = title
        self.questions = list(questions)
        self._widgets = None

    def answer(self, index: int, choice: int) -> str:
        """Answer question `index` with option `choice` (what the Check button does); returns the feedback."""
        correct, text = self.questions[index].feedback(choice)
        if self._widgets:
            self._widgets[index][1].value = text
        return text

    def as_text(self) -> str:
        lines = [self.title, ""]
        for n, q in enumerate(self.questions, 1):
            lines.append(f"{n}. {q.prompt}")
            lines += [f"   {chr(97 + i)}) {opt}" for i, opt in enumerate(q.options)]
        return "\n".join(lines)

    def as_html(self) -> str:
        parts, show = [f"<h4>{html.escape(self.title)}</h4>"], html.escape(t("Show the answer"))
        for n, q in enumerate(self.questions, 1):
            opts = "".join(f"<li>{html.escape(o)}</li>" for o in q.options)
            parts.append(
                f"<p><b>{n}. {html.escape(q.prompt)}</b></p><ol type='a'>{opts}</ol>"
                f"<details><summary>{show}</summary><p>{chr(97 + q.answer)}) "
                f"{html.escape(q.options[q.answer])}. {html.escape(q.explanation)}</p></details>"
            )
        return "".join(parts)

    def widget(self):
        import ipywidgets as w

        rows, self._widgets = [w.HTML(f"<h4>{html.escape(self.title)}</h4>")], []
        for i, q in enumerate(self.questions):
            radio = w.RadioButtons(options=[(o, k) for k, o in enumerate(q.options)], value=None,
                                   layout=w.Layout(width="auto"))
            result = w.HTML()
            button = w.Button(description=t("Check"), button_style="primary")
            button.on_click(lambda _, i=i, radio=radio: self.answer(i, radio.value))
            self._widgets.append((radio, result))
            rows += [w.HTML(f"<b>{i + 1}. {html.escape(q.prompt)}</b>"), radio, w.HBox([button, result])]
        return w.VBox(rows)

    def _repr_mimebundle_(self, include=None, exclude=None):
        # The widget for live kernels; HTML and text for viewers that cannot run widgets.
        bundle = {"text/plain": self.as_text(), "text/html": self.as_html()}
        try:
            bundle.update(self.widget()._repr_mimebundle_())
            bundle["text/plain"] = self.as_text()
        except Exception:  # no ipywidgets, or no kernel comm: the text forms are enough
            pass
        return bundle


def load_quiz(lesson: str) -> Quiz:
    """The quiz of a lesson (e.g. "01_what_is_an_slm"), from data/quizzes.json or its translation in data/i18n/."""
    import json

    from course_lib.i18n import data_file

    quizzes = json.loads(data_file("quizzes.json").read_text(encoding="utf-8"))
    if lesson not in quizzes:
        raise KeyError(t("No quiz for {lesson!r}. Quizzes exist for: {known}", lesson=lesson,
                         known=", ".join(k for k in quizzes if k != "_about")))
    questions = [Question(q["prompt"], tuple(q["options"]), q["answer"], q["explanation"]) for q in quizzes[lesson]]
    return Quiz(t("Check your understanding"), questions)
