"""Read text aloud, offline: espeak-ng synthesises a WAV file; its duration is read from the WAV header.

    speech = speak("A small language model has a few billion parameters.")
    speech.audio_s, speech.synthesis_s   # seconds of audio, seconds it took to make
    speech                               # a player in a notebook

Lesson 11's read-aloud assistant (course_lib.chatbot) uses it. espeak-ng is a small formant synthesiser that screen
readers such as NVDA ship; it runs on Linux, macOS and Windows and needs no network and no model download.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tempfile
import time
import wave
from dataclasses import dataclass
from pathlib import Path

from course_lib.errors import CourseError
from course_lib.i18n import t

TTS_INSTALL = ("Debian/Ubuntu: sudo apt-get install espeak-ng\n"
               "Fedora: sudo dnf install espeak-ng\n"
               "macOS: brew install espeak-ng\n"
               "Windows: the espeak-ng .msi from github.com/espeak-ng/espeak-ng/releases")


class SpeechUnavailableError(CourseError):
    """No offline text-to-speech engine is installed."""


@dataclass
class Speech:
    text: str
    engine: str
    voice: str
    wav: bytes
    synthesis_s: float  # measured: how long the engine took
    audio_s: float  # read from the WAV header: frames / frame rate

    def summary(self) -> str:
        return t("{engine} ({voice}) spoke {n} characters: {audio:.2f} s of audio, synthesised in {ms:.0f} ms",
                 engine=self.engine, voice=self.voice, n=len(self.text), audio=self.audio_s, ms=self.synthesis_s * 1000)

    def _ipython_display_(self):
        from IPython.display import Audio, display

        display(Audio(data=self.wav))


def tts_engine() -> str | None:
    """The espeak-ng program, if installed (on Windows its installer does not always put it on PATH)."""
    found = shutil.which("espeak-ng") or shutil.which("espeak")
    windows = Path(os.environ.get("ProgramFiles", r"C:\Program Files")) / "eSpeak NG" / "espeak-ng.exe"
    return found or (str(windows) if os.name == "nt" and windows.exists() else None)


def speak(text: str, voice: str | None = None, path: str | Path | None = None) -> Speech:
    """Synthesise text to a WAV file, offline; the file is kept only if you give a path."""
    engine = tts_engine()
    if engine is None:
        raise SpeechUnavailableError(t("No offline text-to-speech engine: the answer stays text only. "
                                       "Install espeak-ng, then run the cell again.") + f"\n{TTS_INSTALL}")
    voice = voice or ("cmn" if any("\u4e00" <= c <= "\u9fff" for c in text) else "en")  # Mandarin for Chinese text
    if path is None:
        handle, path_made = tempfile.mkstemp(prefix="course-speech-", suffix=".wav")
        os.close(handle)  # espeak-ng writes the file itself (and Windows will not share an open one)
    target = Path(path or path_made)
    start = time.perf_counter()
    try:  # text goes in on stdin, so an answer that starts with "-" is not read as an option
        subprocess.run([engine, "-v", voice, "--stdin", "-w", str(target)], input=text.encode("utf-8"),
                       capture_output=True, check=True, timeout=60)
        synthesis_s, wav = time.perf_counter() - start, target.read_bytes()
    except (subprocess.SubprocessError, OSError) as err:
        raise SpeechUnavailableError(t("espeak-ng could not speak this text ({error}).", error=type(err).__name__)) from None
    finally:
        if path is None:
            target.unlink(missing_ok=True)
    with wave.open(io.BytesIO(wav)) as header:
        audio_s = header.getnframes() / header.getframerate()
    return Speech(text, Path(engine).stem, voice, wav, synthesis_s, audio_s)
