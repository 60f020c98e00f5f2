"""Chat messages and labelled replies: the small, torch-free pieces every backend shares."""

from __future__ import annotations


def as_messages(prompt_or_messages, system: str | None = None) -> list[dict]:
    """Accept a plain string or a list of chat messages."""
    if isinstance(prompt_or_messages, str):
        messages = [{"role": "user", "content": prompt_or_messages}]
    else:
        messages = list(prompt_or_messages)
    if system:
        messages.insert(0, {"role": "system", "content": system})
    return messages


class Reply(str):
    """A model's answer that remembers who wrote it: shows as '[model · backend] text' in a notebook."""

    def __new__(cls, text: str, model: str, backend: str, note: str = ""):
        obj = super().__new__(cls, text)
        obj.model, obj.backend, obj.note = model, backend, note
        return obj

    @property
    def label(self) -> str:
        return f"[{self.model} · {self.backend}{' · ' + self.note if self.note else ''}]"

    def __repr__(self) -> str:
        return f"{self.label}\n{str(self)}"

    def _repr_pretty_(self, printer, cycle):
        printer.text(repr(self))
