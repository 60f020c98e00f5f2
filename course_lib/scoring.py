"""Whether a reply is right: the one strict scorer used by eval, bench, the lessons and the tests.

A reply to a course question is right when all of these hold:

* it is written in the question's language (a Chinese question needs Chinese; an English one, no Chinese);
* it does not just repeat the question;
* it states every key of the fact: a number as a whole quantity (``3.8 billion`` = ``38 亿`` = ``3.8B``; never a
  number inside another number, a date or a model name such as Phi-3.5-mini, GPT-4 or Mistral 7B), a name or a term
  as a whole word;
* it does not also state the key of another fact, which is how a list of answers, or the answer to a different
  question, is caught (another fact counts only where its key is not part of this fact's own reference answer);
* when the fact is about one subject (Phi-3-mini's parameters), it does not name another subject of the same
  question without naming the one asked about.

A reply to a picture question is right when it is in English, names exactly one option of the task's vocabulary
(one colour, one shape, one bar, first or second; one whole number) and that option is the answer.

``judge_qa`` and ``judge_vision`` also say *why* a reply is wrong; ``qa_correct`` and ``vision_correct`` say only
whether it is right.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

# Letters, digits and underscore, but not CJK characters: Python's \w matches those too, and "支持20种" has a number.
_ALNUM = "A-Za-z0-9_"
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_]*")

# Model and product names that carry numbers: their numbers are never an answer ("Mistral 7B" is not 7 billion).
NAME = re.compile(
    r"(?<![A-Za-z0-9_])(?:"
    r"Phi-?\d+(?:\.\d+)?(?:-[A-Za-z0-9]+)*"  # Phi-3-mini, Phi-3.5-MoE, Phi-4-mini-flash-reasoning, phi3.5
    r"|GPT-\d+(?:\.\d+)?[a-z]?(?:[ -](?:Turbo|mini))?"  # GPT-3.5 Turbo, GPT-4, GPT-4o
    r"|(?:Mistral|Mixtral|Llama|Gemma|Qwen)[ -]?\d+(?:\.\d+)?(?:x\d+)?B?"  # Mistral 7B, Mixtral 8x7B, Llama 3
    r"|iPhone ?\d+|ViT-[A-Z]/\d+(?:-\d+)?"  # iPhone 14, ViT-L/14-336
    r")(?![A-Za-z0-9_])",
    re.IGNORECASE,
)
DATE = re.compile(r"(?<![0-9])\d{4}-\d{2}-\d{2}(?![0-9])")
SCALE = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12,
         "k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12, "千": 1e3, "万": 1e4, "亿": 1e8, "万亿": 1e12}
NUMBER = re.compile(
    rf"(?<![{_ALNUM}.\-/])(\d+(?:,\d{{3}})*(?:\.\d+)?)"  # not the end of a word, a version, a range or a path
    r"(?:\s*(thousand|million|billion|trillion|万亿|亿|万|千)"  # 3.8 billion, 38 亿
    r"|([KMBTkmbt])(?![A-Za-z]))?"  # 3.8B, 128K (but not "4 bits")
    rf"(?![{_ALNUM}]|\.\d)",
)
NUMBER_WORDS = {w: i for i, w in enumerate("zero one two three four five six seven eight nine ten".split())}


def language_of(text: str) -> str:
    """'zh' when Chinese characters make up at least a third of the words (a CJK character counts as one),
    'en' when there is no Chinese character at all, else 'mixed'; '' when there are no words."""
    cjk = len(CJK.findall(text))
    latin = len(LATIN_WORD.findall(text))
    if cjk == 0:
        return "en" if latin else ""
    return "zh" if cjk >= (cjk + latin) / 3 else "mixed"


def _normal(text: str) -> str:
    """Lower case, with every space and punctuation mark removed: for spotting an echo of the question."""
    return "".join(ch for ch in text.lower() if ch.isalnum())


def echoes(question: str, reply: str) -> bool:
    return bool(_normal(question)) and _normal(question) in _normal(reply)


def _without_names(text: str) -> str:
    return DATE.sub(" ", NAME.sub(" ", text))


def quantities(text: str) -> list[float]:
    """Every number in the text as a value (3.8 billion -> 3.8e9, 38 亿 -> 3.8e9, 128K -> 128,000), skipping numbers
    inside names, dates, versions and other numbers."""
    return list(_quantities(text))


@lru_cache(maxsize=256)  # one reply is checked against every other fact's quantity: find its numbers once
def _quantities(text: str) -> tuple[float, ...]:
    values = []
    for number, word, letter in NUMBER.findall(_without_names(text)):
        scale = SCALE[(word or letter).lower()] if (word or letter) else 1.0
        values.append(float(number.replace(",", "")) * scale)
    return tuple(values)


def _same(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9)


@lru_cache(maxsize=4096)
def _key_matcher(key: str):
    """A function text -> bool for one key: a date, a quantity (compared by value) or a term (a whole word)."""
    if DATE.fullmatch(key):
        return lambda text: key in DATE.findall(text)
    if NUMBER.fullmatch(key) and not NAME.fullmatch(key):
        (value,) = _quantities(key)
        return lambda text: any(_same(value, v) for v in _quantities(text))
    # a word needs a word boundary; a term that starts with a digit also must not continue a number or a version
    before = (rf"(?<![{_ALNUM}.\-/])" if key[0].isdigit() else rf"(?<![{_ALNUM}])") if re.match(rf"[{_ALNUM}]", key) else ""
    after = rf"(?![{_ALNUM}]|\.\d)" if re.search(rf"[{_ALNUM}]$", key) else ""
    pattern = re.compile(before + re.escape(key).replace(r"\ ", r"\s+") + after, re.IGNORECASE)
    return lambda text: bool(pattern.search(text))


def mentions(text: str, key: str) -> bool:
    """Whether the text states this key (see the module docstring for what counts)."""
    return _key_matcher(key)(text)


def mentions_all(text: str, keys) -> bool:
    return all(mentions(text, key) for key in keys)


# ---- course questions -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Verdict:
    correct: bool
    reason: str  # why it is wrong, or "right"

    def __bool__(self) -> bool:
        return self.correct


@lru_cache(maxsize=1)
def _facts() -> dict[tuple[str, str], dict]:
    from course_lib.corpus import fact_table

    return {(f["id"], f["lang"]): f for f in fact_table()}


def _subject(fact_id: str) -> tuple[str, str] | tuple[None, None]:
    relation, _, subject = fact_id.partition(":")
    return (relation, subject) if subject else (None, None)


@lru_cache(maxsize=1024)
def _competitors(fact_id: str, lang: str, keys: tuple[str, ...], answer: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Other facts whose keys a right reply must not state: those whose keys this fact's own answer does not state."""
    out = []
    for (other_id, other_lang), other in _facts().items():
        if other_lang != lang or other_id == fact_id or set(other["keys"]) == set(keys):
            continue
        if not mentions_all(answer, other["keys"]):
            out.append((other_id, tuple(other["keys"])))
    return tuple(out)


def judge_qa(qa, reply: str) -> Verdict:
    """Whether `reply` answers the course question `qa` (a corpus.QA), and if not, why."""
    reply = reply or ""
    if not reply.strip():
        return Verdict(False, "no answer")
    lang = language_of(reply)
    if lang != qa.lang:
        return Verdict(False, f"written in {lang or 'no language'}, asked in {qa.lang}")
    if echoes(qa.question, reply):
        return Verdict(False, "repeats the question")
    missing = [key for key in qa.keys if not mentions(reply, key)]
    if missing:
        return Verdict(False, f"does not state {', '.join(missing)}")
    for other_id, other_keys in _competitors(qa.fact, qa.lang, tuple(qa.keys), qa.answer):
        if mentions_all(reply, other_keys):
            return Verdict(False, f"also states {', '.join(other_keys)}, the answer to {other_id}")
    relation, subject = _subject(qa.fact)
    if subject and not mentions(reply, subject):
        others = sorted({s for (fid, _) in _facts() for r, s in [_subject(fid)]
                         if r == relation and s != subject and mentions(reply, s)})
        if others:
            return Verdict(False, f"is about {', '.join(others)}, not {subject}")
    return Verdict(True, "right")


def qa_correct(qa, reply: str) -> bool:
    """Whether `reply` answers the course question `qa` (a corpus.QA): the rules of the module docstring."""
    return judge_qa(qa, reply).correct


# ---- picture questions ----------------------------------------------------------------------------------------

def vision_options(task: str) -> tuple[str, ...]:
    """The words a reply to a picture task chooses from (numeric tasks have none: any whole number)."""
    from course_lib.vision_data import COLORS, SHAPES

    return {"color": tuple(COLORS), "shape": SHAPES, "chart": ("A", "B", "C", "D"),
            "two_images": ("first", "second")}.get(task, ())


def _named_options(task: str, reply: str) -> set[str]:
    if task == "chart":  # bar labels are capital letters standing alone: "Bar B", not the "a" of "a bar"
        return set(re.findall(r"(?<![A-Za-z0-9])([A-D])(?![A-Za-z0-9])", reply))
    return {option for option in vision_options(task)
            if re.search(rf"(?<![A-Za-z]){option}s?(?![A-Za-z])", reply, re.IGNORECASE)}


def whole_numbers(reply: str) -> set[int]:
    """The whole numbers a reply states, in digits or as a word up to ten ("three")."""
    numbers = {int(float(n)) for n in quantities(reply) if float(n).is_integer()}
    numbers |= {NUMBER_WORDS[w.lower()] for w in LATIN_WORD.findall(reply) if w.lower() in NUMBER_WORDS}
    return numbers


def judge_vision(example, reply: str) -> Verdict:
    """Whether `reply` answers a picture question (a vision_data.VisionExample), and if not, why."""
    reply = reply or ""
    if not reply.strip():
        return Verdict(False, "no answer")
    if language_of(reply) != "en":
        return Verdict(False, "not written in English")
    if echoes(example.question, reply):
        return Verdict(False, "repeats the question")
    if example.task in ("count", "reading"):
        named = {str(n) for n in whole_numbers(reply)}
    else:
        named = _named_options(example.task, reply)
    if len(named) != 1:
        return Verdict(False, f"names {len(named)} options ({', '.join(sorted(named)) or 'none'}), not one")
    (said,) = named
    if said.lower() != example.answer.lower():
        return Verdict(False, f"says {said}, the answer is {example.answer}")
    return Verdict(True, "right")


def vision_correct(example, reply: str) -> bool:
    """Whether `reply` answers a picture question: exactly one option of the task, the right one, in English."""
    return judge_vision(example, reply).correct
