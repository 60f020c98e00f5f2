"""The course's generated "textbook" corpus: the Phi recipe in miniature.

Phi-3 was trained on filtered web text plus synthetic "textbook" data
("Textbooks Are All You Need", arXiv 2306.11644), and TinyStories
(arXiv 2305.07759) showed that tiny models write fluent text when the text is
simple. This module builds both, in English and Simplified Chinese, from the
hand-written fact tables in ``data/corpus/``:

* textbook paragraphs that state every fact of the seed lesson;
* simple stories, so the models write whole sentences;
* question/answer pairs in many paraphrases per fact, for fine-tuning: the wordings of the fact tables plus the
  paraphrase families of ``data/corpus/paraphrases.json``, with the subject spelled the loose ways learners type it
  ("phi3 mini") and some English typos, so the models learn to read the question, not one phrasing;
* a held-out split: question wordings and stories that training never sees.

The questions written apart from all this (``course_lib.question_sets``) are never read here.

Everything is drawn from one seeded ``random.Random``, so the same seed gives
the same corpus, byte for byte.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field

from course_lib.paths import DATA_DIR

CORPUS_DIR = DATA_DIR / "corpus"
LANGUAGES = ("en", "zh")

# Fillers around each training wording teach the model that the content words matter, not the phrasing.
# Held-out questions are bare wordings that training never saw, with no filler.
PREFIXES = {
    "en": ["", "Question: ", "Can you tell me: ", "Please answer briefly. ", "I am studying SLMs. ", "Quick question. ",
           "Help me with my homework. "],
    "zh": ["", "请问：", "我想知道，", "请简单回答：", "我在学习小语言模型。", "快问一下：", "帮我做作业。"],
}
SUFFIXES = {
    "en": ["", " Thanks!", " Please keep it short.", " This is for my class."],
    "zh": ["", "谢谢！", "请简短一点。", "这是课上的问题。", "能告诉我吗？"],
}
STORY_REQUESTS = {
    "en": ["Tell me a story about a {animal}.", "Write a short story about a {animal}.",
           "Can you tell me a bedtime story about a {animal}?"],
    "zh": ["给我讲一个关于{animal}的故事。", "写一个关于{animal}的小故事。", "能给我讲一个关于{animal}的睡前故事吗？"],
}


VARIANTS_PER_WORDING = 5  # each training wording appears with this many random fillers, spellings and typos
TYPO_RATE = 0.15  # share of English training questions with one typo
TERSE_RATE = 0.2  # share of training questions with their small words dropped, as learners type in a hurry
# Words a hurried learner leaves out; what is left still names the subject and the attribute asked about.
SMALL_WORDS = {
    "en": {"the", "a", "an", "is", "are", "does", "do", "of", "me", "please", "can", "you", "tell", "i", "to", "in",
           "there", "it", "that", "which", "what"},
    "zh": {"的", "吗", "呢", "请问", "一下", "我", "是", "了", "吧", "告诉"},
}


@dataclass(frozen=True)
class QA:
    """One question with its reference answer and the keys a right answer states (course_lib.scoring decides)."""

    question: str
    answer: str
    lang: str
    fact: str
    keys: tuple[str, ...]


@dataclass
class Corpus:
    seed: int
    documents: list[dict] = field(default_factory=list)  # pretraining text: {"text", "lang", "kind"}
    heldout_documents: list[dict] = field(default_factory=list)  # for perplexity only
    qa_train: list[QA] = field(default_factory=list)
    qa_heldout: list[QA] = field(default_factory=list)
    chats: list[dict] = field(default_factory=list)  # extra SFT chats (stories): {"messages", "lang"}

    def asked(self, question: str, lang: str | None = None) -> QA:
        """The course question with this wording; with `lang`, the same fact's held-out question in that language
        (to score a reply against what was asked, or against the fact's twin in the other language)."""
        qa = next((q for q in self.qa_train + self.qa_heldout if q.question == question), None)
        if qa is None:
            raise KeyError(f"{question!r} is not a course question (training or held-out wording)")
        if lang is None or lang == qa.lang:
            return qa
        return next(q for q in self.qa_heldout if q.fact == qa.fact and q.lang == lang)

    def only(self, languages) -> Corpus:
        """The same corpus restricted to some languages (tiny-phi-3-mini gets English only)."""
        keep = set(languages)
        return Corpus(
            seed=self.seed,
            documents=[d for d in self.documents if d["lang"] in keep],
            heldout_documents=[d for d in self.heldout_documents if d["lang"] in keep],
            qa_train=[q for q in self.qa_train if q.lang in keep],
            qa_heldout=[q for q in self.qa_heldout if q.lang in keep],
            chats=[c for c in self.chats if c["lang"] in keep],
        )

    def summary(self) -> dict:
        """Counts per part and language: the corpus's deterministic size."""
        out = {}
        for name in ("documents", "heldout_documents", "qa_train", "qa_heldout", "chats"):
            items = getattr(self, name)
            for lang in LANGUAGES:
                out[f"{name}_{lang}"] = sum(1 for x in items if _lang(x) == lang)
        out["characters"] = sum(len(d["text"]) for d in self.documents)
        return out


def _lang(item) -> str:
    return item.lang if isinstance(item, QA) else item["lang"]


def load_facts() -> tuple[list[dict], list[dict]]:
    """The relation table and the one-off facts, as written in data/corpus/."""
    relations = json.loads((CORPUS_DIR / "relations.json").read_text(encoding="utf-8"))["relations"]
    facts = json.loads((CORPUS_DIR / "facts.json").read_text(encoding="utf-8"))["facts"]
    return relations, facts


def load_paraphrases() -> dict:
    """Extra training wordings: {"relations": {id: {lang: [template with {s}]}}, "facts": {id: {lang: [wording]}}}."""
    return json.loads((CORPUS_DIR / "paraphrases.json").read_text(encoding="utf-8"))


def _unique(wordings, leave_out=()) -> list[str]:
    """Wordings in order, without repeats and without any of `leave_out` (the held-out ones never train)."""
    seen, out = set(leave_out), []
    for wording in wordings:
        if wording not in seen:
            seen.add(wording)
            out.append(wording)
    return out


def fact_table() -> list[dict]:
    """Every fact as {id, topic, lang, subject, wordings, heldout, answer, keys}, relations expanded per subject."""
    relations, facts = load_facts()
    extra = load_paraphrases()
    table = []
    for rel in relations:
        for row in rel["rows"]:
            for lang in LANGUAGES:
                spec = rel[lang]
                fill = {"s": row["s"], "v": row[lang]}
                heldout = [w.format(**fill) for w in spec["heldout"]]
                asks = spec["ask"] + extra["relations"].get(rel["id"], {}).get(lang, [])
                table.append({
                    "id": f"{rel['id']}:{row['s']}", "topic": rel["topic"], "lang": lang, "subject": row["s"],
                    "wordings": _unique([w.format(**fill) for w in asks], heldout),
                    "heldout": heldout,
                    "answer": spec["say"].format(**fill),
                    "keys": tuple(row["key"][lang]),
                })
    for fact in facts:
        for lang in LANGUAGES:
            spec = fact[lang]
            table.append({
                "id": fact["id"], "topic": fact["topic"], "lang": lang, "subject": None,
                "wordings": _unique(spec["ask"] + extra["facts"].get(fact["id"], {}).get(lang, []), spec["heldout"]),
                "heldout": list(spec["heldout"]),
                "answer": spec["answer"], "keys": tuple(fact["key"][lang]),
            })
    return table


def tokenizer_texts(corpus: Corpus) -> list[str]:
    """What the tokenizer learns its vocabulary from: the documents and the training wordings as written (typos and
    loose spellings should not shape the vocabulary)."""
    return [d["text"] for d in corpus.documents] + [w for fact in fact_table() for w in fact["wordings"]]


def spellings(subject: str) -> list[str]:
    """The ways learners type a name: as written, lower case, spaces for hyphens, "phi3" for "Phi-3"."""
    joined = re.sub(r"(?i)phi-(\d)", r"Phi\1", subject)
    forms = [subject, subject.lower(), subject.replace("-", " "), subject.lower().replace("-", " "),
             joined, joined.lower(), joined.replace("-", " ").lower()]
    return _unique(forms)


def typo(rng: random.Random, text: str, protect: str | None = None) -> str:
    """One slip of the keyboard in a random word of four letters or more (a swap, a dropped or a doubled letter),
    never inside `protect` (the subject's name, which has its own loose spellings)."""
    words = [m for m in re.finditer(r"[A-Za-z]{4,}", text) if not (protect and m.group() in protect)]
    if not words:
        return text
    m = rng.choice(words)
    w, i = m.group(), rng.randrange(1, len(m.group()) - 1)
    swapped, dropped, doubled = w[:i] + w[i + 1] + w[i] + w[i + 2:], w[:i] + w[i + 1:], w[:i] + w[i] + w[i:]
    return text[:m.start()] + (swapped, dropped, doubled)[rng.randrange(3)] + text[m.end():]


def terse(text: str, lang: str) -> str:
    """The question without its small words ("How many parameters does Phi-3-mini have?" -> "How many parameters
    Phi-3-mini have?"), so that the model learns to read the words that carry the question."""
    if lang == "en":
        kept = [w for w in text.split(" ") if w.lower().strip("?,.:!") not in SMALL_WORDS["en"]]
        return " ".join(kept) if len(kept) >= 4 else text  # "SLM?" alone is no question
    for word in sorted(SMALL_WORDS["zh"], key=len, reverse=True):
        text = text.replace(word, "")
    return text.strip()


def training_questions(rng: random.Random, fact: dict) -> list[str]:
    """Each training wording of a fact, VARIANTS_PER_WORDING times: with a random filler before and after (or, now
    and then, without its small words), the subject in a random spelling, and sometimes (English) a typo. The bare
    wording, as written, is always one."""
    lang, subject, out = fact["lang"], fact["subject"], []
    for wording in fact["wordings"]:
        out.append(wording)
        for _ in range(VARIANTS_PER_WORDING - 1):
            if rng.random() < TERSE_RATE:
                text = terse(wording, lang)
            else:
                text = rng.choice(PREFIXES[lang]) + wording + rng.choice(SUFFIXES[lang])
            if lang == "en" and rng.random() < TYPO_RATE:
                text = typo(rng, text, protect=subject)
            if subject:
                text = text.replace(subject, rng.choice(spellings(subject)))
            out.append(text)
    return _unique(out)


def textbook_paragraphs(rng: random.Random, table: list[dict], copies: int) -> list[dict]:
    """Facts grouped by subject or topic into paragraphs, in `copies` shuffled orders."""
    groups: dict[tuple[str, str], list[str]] = {}
    for fact in table:
        subject = fact["id"].split(":", 1)[1] if ":" in fact["id"] else fact["topic"]
        groups.setdefault((subject, fact["lang"]), []).append(fact["answer"])
    docs = []
    for _ in range(copies):
        for (_, lang), sentences in sorted(groups.items()):
            sentences = sentences[:]
            rng.shuffle(sentences)
            joiner = "" if lang == "zh" else " "
            docs.append({"text": joiner.join(sentences), "lang": lang, "kind": "textbook"})
    return docs


def _pick(rng: random.Random, words: dict) -> dict:
    return {slot: rng.choice(options) for slot, options in words.items() if not slot.startswith("_")}


def story(choice: dict, lang: str) -> str:
    """One TinyStories-like story from a choice of words; the same choice gives parallel EN and ZH."""
    i = 0 if lang == "en" else 1
    w = {slot: pair[i] for slot, pair in choice.items()}
    if lang == "en":
        name = w["name"]
        return (
            f"Once upon a time, there was a {w['adj']} {w['animal']} named {name}. "
            f"{name} lived in {w['place']} and liked to {w['activity']}. {w['weather']} "
            f"One day, {name} found a {w['object']} {w['where']}. But the {w['object']} was {w['problem']}. "
            f"{name} asked {w['friend']} for help. Together they {w['fix']}. "
            f"{name} felt {w['feeling']}. {name} learned that {w['moral']}."
        )
    name = w["name"]
    return (
        f"从前，有一只{w['adj']}的{w['animal']}，名叫{name}。"
        f"{name}住在{w['place']}，喜欢{w['activity']}。{w['weather']}"
        f"有一天，{name}在{w['where']}发现了一个{w['object']}。可是{w['object']}{w['problem']}。"
        f"{name}请{w['friend']}帮忙。他们一起{w['fix']}。"
        f"{name}觉得很{w['feeling']}。{name}明白了{w['moral']}。"
    )


def build_corpus(seed: int = 0, n_stories: int = 1200, n_heldout_stories: int = 60, textbook_copies: int = 8) -> Corpus:
    """Generate the whole corpus. Same arguments, same corpus."""
    rng = random.Random(seed)
    table = fact_table()
    words = json.loads((CORPUS_DIR / "stories.json").read_text(encoding="utf-8"))
    corpus = Corpus(seed=seed)

    corpus.documents += textbook_paragraphs(rng, table, textbook_copies)
    seen_stories = set()
    while len(seen_stories) < n_stories + n_heldout_stories:
        choice = _pick(rng, words)
        key = story(choice, "en")
        if key in seen_stories:
            continue
        seen_stories.add(key)
        heldout = len(seen_stories) > n_stories
        for lang in LANGUAGES:
            doc = {"text": story(choice, lang), "lang": lang, "kind": "story"}
            (corpus.heldout_documents if heldout else corpus.documents).append(doc)
            if not heldout and len(seen_stories) % 4 == 0:  # a quarter become "tell me a story" chats
                request = rng.choice(STORY_REQUESTS[lang]).format(animal=choice["animal"][LANGUAGES.index(lang)])
                corpus.chats.append({"lang": lang, "messages": [
                    {"role": "user", "content": request}, {"role": "assistant", "content": doc["text"]}]})

    asked = [(question, fact) for fact in table for question in training_questions(rng, fact)]
    facts_of: dict[str, set] = {}
    for question, fact in asked:
        facts_of.setdefault(question, set()).add(fact["id"])
    for question, fact in asked:  # a wording two facts share ("How big is it?") has no one right answer: drop it
        if len(facts_of[question]) == 1:
            corpus.qa_train.append(QA(question, fact["answer"], fact["lang"], fact["id"], fact["keys"]))
    for fact in table:
        for wording in fact["heldout"]:
            corpus.qa_heldout.append(QA(wording, fact["answer"], fact["lang"], fact["id"], fact["keys"]))
    rng.shuffle(corpus.documents)
    rng.shuffle(corpus.qa_train)

    trained = {q.question for q in corpus.qa_train}
    assert not any(q.question in trained for q in corpus.qa_heldout), "a held-out question leaked into training"
    return corpus
