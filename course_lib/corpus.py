"""The course's generated "textbook" corpus: the Phi recipe in miniature.

Phi-3 was trained on filtered web text plus synthetic "textbook" data
("Textbooks Are All You Need", arXiv 2306.11644), and TinyStories
(arXiv 2305.07759) showed that tiny models write fluent text when the text is
simple. This module builds both, in English and Simplified Chinese, from the
hand-written fact tables in ``data/corpus/``:

* textbook paragraphs that state every fact of the seed lesson;
* simple stories, so the models write whole sentences;
* question/answer pairs in many paraphrases per fact, for fine-tuning;
* a held-out split: question wordings and stories that training never sees.

Everything is drawn from one seeded ``random.Random``, so the same seed gives
the same corpus, byte for byte.
"""

from __future__ import annotations

import json
import random
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


def fact_table() -> list[dict]:
    """Every fact as {id, topic, lang, wordings, heldout, answer, keys}, relations expanded per subject."""
    relations, facts = load_facts()
    table = []
    for rel in relations:
        for row in rel["rows"]:
            for lang in LANGUAGES:
                spec = rel[lang]
                fill = {"s": row["s"], "v": row[lang]}
                table.append({
                    "id": f"{rel['id']}:{row['s']}", "topic": rel["topic"], "lang": lang,
                    "wordings": [w.format(**fill) for w in spec["ask"]],
                    "heldout": [w.format(**fill) for w in spec["heldout"]],
                    "answer": spec["say"].format(**fill),
                    "keys": tuple(row["key"][lang]),
                })
    for fact in facts:
        for lang in LANGUAGES:
            spec = fact[lang]
            table.append({
                "id": fact["id"], "topic": fact["topic"], "lang": lang,
                "wordings": list(spec["ask"]), "heldout": list(spec["heldout"]),
                "answer": spec["answer"], "keys": tuple(fact["key"][lang]),
            })
    return table


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

    for fact in table:
        for wording in fact["wordings"]:
            for prefix in PREFIXES[fact["lang"]]:
                for suffix in SUFFIXES[fact["lang"]]:
                    question = prefix + wording + suffix
                    corpus.qa_train.append(QA(question, fact["answer"], fact["lang"], fact["id"], fact["keys"]))
        for wording in fact["heldout"]:
            corpus.qa_heldout.append(QA(wording, fact["answer"], fact["lang"], fact["id"], fact["keys"]))
    rng.shuffle(corpus.documents)
    rng.shuffle(corpus.qa_train)

    trained = {q.question for q in corpus.qa_train}
    assert not any(q.question in trained for q in corpus.qa_heldout), "a held-out question leaked into training"
    return corpus
