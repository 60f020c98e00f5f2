"""A streaming chatbot: pick a model source, keep the conversation, stream each answer, optionally read it aloud.

    app = ChatApp()                      # course models in-process (transformers, ORT), the local server, configured clouds
    app                                  # shows the widget in a notebook
    app.send("What is an SLM?")          # what the Send button does: streams into the display, returns a labelled Reply
    app.clear()                          # what the Clear button does

A *source* is anything with a ``label`` and ``stream(messages, max_new_tokens=...)`` that yields text pieces, and
``reply(text)`` that labels the answer. Subclass ``Source`` to add one: ``ChatApp(extra_sources=[MySource()])``.
"""

from __future__ import annotations

import html
import importlib.util
import itertools
import time
from collections.abc import Iterator
from threading import Thread

from course_lib.errors import CourseError, PromptTooLongError, redact
from course_lib.generation import Reply, model_note, sampling_kwargs
from course_lib.i18n import t
from course_lib.speech import Speech, speak

SHORT_ANSWER = "Answer in one short sentence."  # the read-aloud assistant's system prompt: short answers are quick to hear
DEFAULT_SYSTEM = "You are a helpful assistant."  # one of the system prompts the course models were fine-tuned with


class Source:
    """Where answers come from. Subclasses set model, backend and note, and write stream()."""

    model, backend, note = "?", "?", ""

    @property
    def label(self) -> str:
        return f"{self.model} · {self.backend}" + (f" · {self.note}" if self.note else "")

    def stream(self, messages: list[dict], max_new_tokens: int = 80) -> Iterator[str]:
        raise NotImplementedError

    def reply(self, text: str) -> Reply:
        return Reply(text, self.model, self.backend, self.note)


class TransformersSource(Source):
    """A model in this process: generate() in a worker thread feeds a TextIteratorStreamer that we read.

    `name` is a course model ("tiny-phi-3.5-mini") or a real Phi alias ("phi-3.5-mini") already in the HF cache.
    """

    backend = "transformers in-process"

    def __init__(self, name: str = "tiny-phi-3.5-mini", temperature: float = 0.0, seed: int = 0):
        from course_lib.models import REAL_PHI

        self.name, self.temperature, self.seed = name, temperature, seed
        self.model = REAL_PHI[name].split("/")[-1] if name in REAL_PHI else name
        self.note = t("tiny course model") if name.startswith("tiny-") else ""
        self.loaded = None  # (model, tokenizer), loaded on first use so listing the sources stays instant

    def load(self):
        if self.loaded is None:
            from course_lib.models import REAL_PHI, UnknownModelError, load, load_real

            try:
                self.loaded = load_real(self.name) if self.name in REAL_PHI else load(self.name)
            except UnknownModelError as err:
                raise CourseError(str(err)) from None
            self.note = model_note(self.loaded[0])  # now with its measured size: "tiny course model, 3.9M params"
        return self.loaded

    def stream(self, messages: list[dict], max_new_tokens: int = 80) -> Iterator[str]:
        import torch
        from transformers import TextIteratorStreamer

        from course_lib.tokenizer import stop_token_ids

        model, tok = self.load()
        text = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        inputs = tok(text, return_tensors="pt", add_special_tokens=False, verbose=False)  # quiet: too long is ours to say
        n, limit = inputs["input_ids"].shape[1], model.config.max_position_embeddings
        if n + max_new_tokens > limit:  # checked before any thread starts, so the caller can drop turns and retry
            raise PromptTooLongError(t("The conversation is {n} tokens and the reply may add {new}, but {model} reads at "
                                       "most {limit} (its context window). Drop earlier turns.", n=n, new=max_new_tokens,
                                       model=self.model, limit=limit))
        streamer = TextIteratorStreamer(tok, skip_prompt=True, skip_special_tokens=True)
        failed = []

        def generate():
            try:
                model.generate(**inputs.to(model.device), streamer=streamer, max_new_tokens=max_new_tokens,
                               eos_token_id=stop_token_ids(tok), pad_token_id=tok.pad_token_id,
                               **sampling_kwargs(self.temperature))
            except Exception as exc:  # raised again in the reading thread; the streamer must still end
                failed.append(exc)
                streamer.end()

        torch.manual_seed(self.seed)
        worker = Thread(target=generate, daemon=True)
        worker.start()
        return _read(streamer, worker, failed)


def _read(streamer, worker: Thread, failed: list) -> Iterator[str]:
    try:
        yield from (piece for piece in streamer if piece)  # the streamer hands over empty strings while it waits
    finally:
        worker.join()
    if failed:
        raise failed[0]


class APISource(Source):
    """Any backend of course_lib.clients through the real openai SDK, streamed: the local server or a cloud."""

    def __init__(self, backend: str = "local", model: str = "phi-3.5-mini", temperature: float = 0.0):
        from course_lib.clients import resolve_model

        self.name, self.requested, self.temperature = backend, model, temperature
        self.model = resolve_model(model, backend)
        self.backend = "local server (transformers serve)" if backend == "local" else f"{backend} via openai"
        self.note = t("tiny course model") if self.model.startswith("tiny-") else ""

    def stream(self, messages: list[dict], max_new_tokens: int = 80) -> Iterator[str]:
        from course_lib import clients

        return clients.chat(messages, backend=self.name, model=self.requested, sdk="openai", stream=True,
                            max_tokens=max_new_tokens, temperature=self.temperature)


class OrtSource(Source):
    """A course model exported to ONNX (lesson 09), streamed by ONNX Runtime GenAI's generation loop."""

    backend = "onnxruntime-genai in-process"

    def __init__(self, name: str = "tiny-phi-3.5-mini", precision: str = "int4"):
        self.name, self.precision, self.model = name, precision, f"{name}-{precision}"
        self.note = t("tiny course model")
        self.bot = None  # exported and loaded on first use (a few seconds), so listing the sources stays instant

    def stream(self, messages: list[dict], max_new_tokens: int = 80) -> Iterator[str]:
        if self.bot is None:
            from course_lib.onnx_runtime import OrtChat, export

            self.bot = OrtChat(export(self.name, self.precision))
        return self.bot.stream(messages, max_new_tokens)


def available_sources(extra: list | tuple = ()) -> list[Source]:
    """The course models in-process (Transformers, and ONNX Runtime int4), the local server, each configured cloud
    backend (never the retired github).

    The real Phi-3.5-mini is listed too when it is in the Hugging Face cache (nothing is downloaded).
    """
    from course_lib.backends import backend_status
    from course_lib.models import cached_real_checkpoint, is_built

    sources: list = [TransformersSource(name) for name in ("tiny-phi-3.5-mini", "tiny-phi-3-mini") if is_built(name)]
    if cached_real_checkpoint("phi-3.5-mini"):
        sources.append(TransformersSource("phi-3.5-mini"))
    if is_built("tiny-phi-3.5-mini") and importlib.util.find_spec("onnxruntime_genai"):
        sources.append(OrtSource("tiny-phi-3.5-mini", "int4"))
    sources.append(APISource("local"))  # the server starts on the first message sent to it
    sources += [APISource(row["backend"]) for row in backend_status()
                if row["configured"] and row["backend"] not in ("local", "github")]
    return sources + list(extra)


class ChatApp:
    """The chatbot widget. Every button calls a plain method (send, clear), so lessons and CI drive it by code."""

    def __init__(self, sources: list | None = None, extra_sources: list | tuple = (), system: str = DEFAULT_SYSTEM,
                 max_new_tokens: int = 80, read_aloud: bool = False):
        import ipywidgets as w

        self.sources = (list(sources) if sources is not None else available_sources()) + list(extra_sources)
        self.max_new_tokens = max_new_tokens
        self.turns: list[tuple[str, Reply]] = []  # (question, labelled answer), oldest first
        self.forgotten = 0  # the oldest turns no longer sent: they no longer fit the context window
        self.last_stats: dict = {}
        self.last_speech: Speech | None = None
        self.picker = w.Dropdown(options=[(s.label, i) for i, s in enumerate(self.sources)], description=t("model"),
                                 layout=w.Layout(width="95%"))
        self.system = w.Textarea(value=system, description=t("system"), layout=w.Layout(width="95%"))
        self.history = w.HTML()
        self.input = w.Text(placeholder=t("Ask something…"), layout=w.Layout(width="70%"))
        self.send_button, self.clear_button = w.Button(description=t("Send")), w.Button(description=t("Clear"))
        self.read_aloud = w.Checkbox(value=read_aloud, description=t("read answers aloud"))
        self.audio = w.Audio(format="wav", autoplay=True, layout=w.Layout(display="none"))
        self.status, self.status_text = w.HTML(), ""
        self.send_button.on_click(lambda _: self.send())
        self.clear_button.on_click(lambda _: self.clear())
        self.view = w.VBox([self.picker, self.system, self.history,
                            w.HBox([self.input, self.send_button, self.clear_button]),
                            w.HBox([self.read_aloud, self.audio]), self.status])
        self._render()

    @property
    def source(self) -> Source:
        return self.sources[self.picker.value]

    def messages(self, question: str, skip: int = 0) -> list[dict]:
        """What the model reads: the system prompt, the turns still remembered, then the new question."""
        system = [{"role": "system", "content": self.system.value}] if self.system.value.strip() else []
        turns = [[{"role": "user", "content": q}, {"role": "assistant", "content": str(a)}] for q, a in self.turns[skip:]]
        return system + list(itertools.chain(*turns)) + [{"role": "user", "content": question}]

    def send(self, text: str | None = None) -> Reply | None:
        """Send a message (the text box's, by default), stream the answer into the display, return it (None on error)."""
        question = (self.input.value if text is None else text).strip()
        if not question:
            self._say(t("Type a message first."))
            return None
        self.input.value, self.send_button.disabled, source = "", True, self.source
        try:
            start = time.perf_counter()
            skip, pieces = self._open_stream(source, question)
            answer, first_s = [], None
            for piece in filter(None, pieces):  # empty pieces change nothing on screen
                first_s = time.perf_counter() - start if first_s is None else first_s
                answer.append(piece)
                self._render(question, source.label, "".join(answer))
            reply = source.reply("".join(answer).strip())
        except CourseError as err:
            self._say(f"❌ {type(err).__name__}: {err}")
            self._render()
            return None
        finally:
            self.send_button.disabled = False
        dropped, self.forgotten = skip - self.forgotten, skip
        self.turns.append((question, reply))
        note = t(" Forgot the {n} oldest turn(s): they no longer fit its context window.", n=dropped) if dropped else ""
        self.last_stats = {"pieces": len(answer), "first_piece_s": first_s, "total_s": time.perf_counter() - start,
                           "dropped_turns": dropped, "forgot_note": note.strip()}  # the note, in the learner's language
        self._render()
        self._say(f"{source.label}: " + t("{pieces} pieces, first after {ms:.0f} ms, {seconds:.2f} s in all.{note}",
                                          pieces=len(answer), ms=(first_s or 0) * 1000,
                                          seconds=self.last_stats["total_s"], note=note))
        if self.read_aloud.value:
            self._speak(reply)
        return reply

    def _open_stream(self, source: Source, question: str):
        """Start the answer; while the conversation is too long for the model, forget the oldest turn and retry."""
        skip = self.forgotten
        while True:
            try:
                pieces = iter(source.stream(self.messages(question, skip), max_new_tokens=self.max_new_tokens))
                first = next(pieces, "")  # a lazy source only checks the prompt when first read
                return skip, itertools.chain([first], pieces)
            except PromptTooLongError:
                if skip == len(self.turns):
                    raise  # even the new question alone is too long
                skip += 1

    def clear(self) -> None:
        self.turns, self.forgotten, self.last_stats, self.last_speech = [], 0, {}, None
        self.audio.layout.display = "none"
        self._render()
        self._say(t("Conversation cleared."))

    def _speak(self, reply: Reply) -> None:
        try:
            self.last_speech = speak(reply)
        except CourseError as err:
            self._say(self.status_text, f"🔇 {err}")
            return
        self.audio.value, self.audio.layout.display = self.last_speech.wav, None
        self._say(self.status_text, f"🔊 {self.last_speech.summary()}")

    def _say(self, *lines: str) -> None:
        self.status_text = redact("\n".join(lines))  # redact: a message must never carry a key
        self.status.value = html.escape(self.status_text).replace("\n", "<br>")

    def _render(self, question: str | None = None, label: str = "", partial: str = "") -> None:
        rows = []
        for i, (q, a) in enumerate(self.turns):
            faded = f' style="opacity:0.5" title="{html.escape(t("forgotten: no longer sent to the model"))}"'
            rows.append(f"<div{faded if i < self.forgotten else ''}>{_row(t('You'), q)}{_row(a.label, str(a))}</div>")
        if question is not None:
            rows.append(_row(t("You"), question) + _row(f"[{label}]", partial + " ▌"))
        self.history.value = "".join(rows) or f"<i>{html.escape(t('No messages yet.'))}</i>"

    def _ipython_display_(self):
        from IPython.display import display

        display(self.view)


def _row(who: str, text: str) -> str:
    return f"<p><b>{html.escape(who)}</b><br>{html.escape(text)}</p>"
