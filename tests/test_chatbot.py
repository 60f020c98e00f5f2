"""Lesson 11's chatbot, driven by code as CI drives the widgets: send, stream, keep history, trim, clear, read aloud."""

import wave
from io import BytesIO

import pytest

from course_lib.chatbot import SHORT_ANSWER, APISource, ChatApp, Source, TransformersSource, available_sources
from course_lib.errors import CourseError, PromptTooLongError
from course_lib.generation import chat
from course_lib.speech import SpeechUnavailableError, speak, tts_engine

QUESTION = [{"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "What is a small language model?"}]


@pytest.fixture(scope="module")
def tiny():
    return TransformersSource("tiny-phi-3.5-mini")


@pytest.fixture(scope="module")
def server():
    """The shared local server that APISource("local") reaches through course_lib.clients (about 6 s to start)."""
    from course_lib.serve import local_server

    running = local_server()
    yield running
    running.stop()


class Echo(Source):
    """An extra source, as a caller would add one: yields the question back word by word and records what it read."""

    model, backend, note = "echo", "test source", "not a model"

    def __init__(self, max_words: int | None = None):
        self.max_words, self.seen = max_words, []

    def stream(self, messages, max_new_tokens=80):
        words = sum(len(m["content"].split()) for m in messages)
        if self.max_words is not None and words > self.max_words:
            raise PromptTooLongError(f"{words} words is more than {self.max_words}")
        self.seen.append(messages)
        return iter([w + " " for w in messages[-1]["content"].split()])


def test_in_process_stream_yields_pieces_that_join_to_the_greedy_answer(tiny):
    pieces = list(tiny.stream(QUESTION, max_new_tokens=40))
    model, tok = tiny.load()
    assert len(pieces) >= 3 and all(pieces)
    assert "".join(pieces).strip() == chat(model, tok, QUESTION, max_new_tokens=40)


def test_in_process_source_refuses_a_prompt_beyond_the_context_window(tiny):
    with pytest.raises(PromptTooLongError, match="512"):
        tiny.stream([{"role": "user", "content": "token " * 600}])


def test_send_streams_into_the_display_keeps_history_and_clear_empties_it(tiny):
    app = ChatApp(sources=[tiny])
    shown = []
    app.history.observe(lambda change: shown.append(change["new"]), names="value")
    reply = app.send("What is Phi-3-mini?")
    assert reply and "tiny course model" in reply.label
    assert app.last_stats["pieces"] >= 2 and len(shown) >= app.last_stats["pieces"]  # redrawn as pieces arrived
    assert "▌" in shown[0] and "What is Phi-3-mini?" in shown[-1] and "tiny course model" in shown[-1]
    assert app.input.value == "" and app.status_text.startswith(tiny.label)

    app.send("How many parameters does it have?")
    sent = app.messages("next")
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert sent[1]["content"] == "What is Phi-3-mini?" and sent[2]["content"] == str(reply)

    app.clear()
    assert app.turns == [] and "No messages yet" in app.history.value and len(app.messages("x")) == 2


def test_extra_sources_are_offered_and_the_display_is_escaped():
    echo = Echo()
    app = ChatApp(sources=[], extra_sources=[echo], system="")
    assert app.picker.options == ((echo.label, 0),)
    reply = app.send("<b>bold</b> & more")
    assert reply == "<b>bold</b> & more" and reply.label == "[echo · test source · not a model]"
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; more" in app.history.value and "<b>bold</b>" not in app.history.value
    assert echo.seen[0] == [{"role": "user", "content": "<b>bold</b> & more"}]  # an empty system prompt is left out


def test_the_oldest_turns_are_forgotten_when_the_chat_outgrows_the_context():
    echo = Echo(max_words=20)
    app = ChatApp(sources=[echo], system="Be brief.")  # 2 words
    for question in ("one two three", "four five six", "seven eight nine"):
        app.send(question)  # each turn adds 6 words (question and echoed answer)
    assert app.forgotten == 0 and len(echo.seen[-1]) == 6
    app.send("ten eleven twelve")  # 2 + 18 + 3 > 20: the first turn must go
    assert app.last_stats["dropped_turns"] == 1 and app.forgotten == 1
    assert echo.seen[-1][0]["content"] == "Be brief." and echo.seen[-1][1]["content"] == "four five six"
    assert "Forgot the 1 oldest turn" in app.status_text and "forgotten" in app.history.value
    assert app.send("word " * 30) is None  # too long even alone: said in the status line, no turn added
    assert "PromptTooLongError" in app.status_text and len(app.turns) == 4


def test_real_trimming_with_a_course_model(tiny):
    app = ChatApp(sources=[tiny], max_new_tokens=40)
    long_question = "What is a token? " * 25
    for _ in range(4):
        assert app.send(long_question)
    assert app.forgotten >= 1 and "Forgot" in app.status_text


def test_api_source_streams_through_the_real_local_server(server, tiny):
    local = APISource("local")
    assert local.label == "tiny-phi-3.5-mini · local server (transformers serve) · tiny course model"
    app = ChatApp(sources=[local])
    reply = app.send("What is a small language model?")
    assert reply and reply.model == "tiny-phi-3.5-mini" and app.last_stats["pieces"] >= 2
    assert app.last_stats["first_piece_s"] <= app.last_stats["total_s"]


def test_a_course_error_goes_to_the_status_line_without_the_secret(monkeypatch):
    monkeypatch.setenv("NVIDIA_API_KEY", "")  # set but empty: a developer's .env cannot fill it in
    app = ChatApp(sources=[APISource("nim")])
    assert app.send("Hello") is None
    assert "MissingKeyError" in app.status_text and "NVIDIA_API_KEY" in app.status_text
    assert "Traceback" not in app.status_text and app.turns == []

    secret = "sk-test-0123456789abcdef"
    monkeypatch.setenv("COURSE_API_KEY", secret)

    class Leaky(Echo):
        def stream(self, messages, max_new_tokens=80):
            raise CourseError(f"the server echoed the key {secret}")

    app = ChatApp(sources=[Leaky()])
    app.send("Hello")
    assert secret not in app.status_text and secret not in app.status.value and "COURSE_API_KEY" in app.status_text


def test_available_sources_lists_configured_backends_but_never_github(monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "not-a-real-token")  # configured, yet retired: must not be offered
    monkeypatch.setenv("NVIDIA_API_KEY", "not-a-real-key")
    for var in ("COURSE_GITHUB_ENDPOINT", "COURSE_NIM_BASE_URL"):  # a closed loopback port: no network is touched
        monkeypatch.setenv(var, "http://127.0.0.1:9/v1")
    labels = [s.label for s in available_sources(extra=[Echo()])]
    assert labels[0] == "tiny-phi-3.5-mini · transformers in-process · tiny course model"
    assert "tiny-phi-3-mini · transformers in-process · tiny course model" in labels
    assert "tiny-phi-3.5-mini · local server (transformers serve) · tiny course model" in labels
    assert "tiny-phi-3.5-mini-int4 · onnxruntime-genai in-process · tiny course model" in labels
    assert "microsoft/phi-3.5-mini-instruct · nim via openai" in labels
    assert not any("github" in label for label in labels) and labels[-1] == Echo().label


@pytest.mark.skipif(tts_engine() is None, reason="no espeak-ng: install it (sudo apt-get install espeak-ng) to run this")
def test_speak_writes_a_wav_of_positive_duration(tmp_path):
    speech = speak("A small language model runs on a laptop.", path=tmp_path / "answer.wav")
    with wave.open(str(tmp_path / "answer.wav")) as header:
        assert header.getnframes() > 0
    assert speech.audio_s > 0.5 and speech.synthesis_s > 0 and speech.wav.startswith(b"RIFF")
    assert speak("小语言模型").voice == "cmn"  # Chinese text gets the Mandarin voice


@pytest.mark.skipif(tts_engine() is None, reason="no espeak-ng: install it (sudo apt-get install espeak-ng) to run this")
def test_the_read_aloud_assistant_speaks_its_short_answer(tiny):
    app = ChatApp(sources=[tiny], system=SHORT_ANSWER, read_aloud=True)
    reply = app.send("What is a small language model?")
    assert reply and app.last_speech.text == reply
    with wave.open(BytesIO(app.audio.value)) as header:
        assert header.getnframes() / header.getframerate() == pytest.approx(app.last_speech.audio_s)
    assert "🔊" in app.status_text and app.audio.layout.display is None


def test_without_an_engine_the_answer_stays_text_and_says_how_to_install(monkeypatch, tmp_path, tiny):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty PATH: no espeak-ng to be found
    with pytest.raises(SpeechUnavailableError, match="apt-get install espeak-ng"):
        speak("hello")
    app = ChatApp(sources=[tiny], system=SHORT_ANSWER, read_aloud=True)
    assert app.send("What is a small language model?")
    assert "🔇" in app.status_text and "brew install espeak-ng" in app.status_text and app.last_speech is None


def test_onnx_runtime_source_streams_the_same_answer_as_ort_and_trims_history():
    from course_lib.chatbot import OrtSource
    from course_lib.onnx_runtime import OrtChat, export

    source = OrtSource("tiny-phi-3.5-mini", "int4")
    app = ChatApp(sources=[source], system="")
    reply = app.send("What is an SLM?")
    want = OrtChat(export("tiny-phi-3.5-mini", "int4")).ask("What is an SLM?", max_new_tokens=80)
    assert str(reply) == str(want) and app.last_stats["pieces"] > 5
    for _ in range(12):  # long enough questions that the oldest turns must be dropped to fit 512 tokens
        app.send("Tell me a story about a fox. " * 6)
    assert app.forgotten > 0 and app.turns[-1][1]


def test_the_chat_app_speaks_the_learners_language(monkeypatch):
    """In the Chinese edition the buttons, the status line and the history are Chinese; the lesson's claim reads the
    forgetting note from last_stats, so it holds in either language."""
    monkeypatch.setenv("COURSE_LANG", "zh-CN")
    echo = Echo(max_words=20)
    app = ChatApp(sources=[echo], system="Be brief.")
    assert app.send_button.description == "发送" and "还没有消息" in app.history.value
    for question in ("one two three", "four five six", "seven eight nine", "ten eleven twelve"):
        app.send(question)
    note = app.last_stats["forgot_note"]
    assert note.startswith("已遗忘最早的 1 轮对话") and note in app.status_text and "Forgot" not in app.status_text
