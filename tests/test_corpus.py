import pytest

from course_lib.corpus import build_corpus, fact_table


def test_same_seed_same_corpus():
    a, b = build_corpus(seed=3, n_stories=30, n_heldout_stories=3), build_corpus(seed=3, n_stories=30, n_heldout_stories=3)
    assert a.summary() == b.summary()
    assert [d["text"] for d in a.documents] == [d["text"] for d in b.documents]
    assert a.qa_train == b.qa_train
    other = build_corpus(seed=4, n_stories=30, n_heldout_stories=3)  # the seed decides: another one shuffles otherwise
    assert [d["text"] for d in other.documents] != [d["text"] for d in a.documents]


def test_default_size_is_deterministic():
    corpus = build_corpus()
    summary = corpus.summary()
    assert summary == build_corpus().summary()
    assert summary["qa_heldout_en"] == summary["qa_heldout_zh"] > 100
    assert summary["documents_en"] == summary["documents_zh"]
    # each count is its own part's, in its own language: checked against the fact table and the default arguments
    table = fact_table()
    for lang in ("en", "zh"):
        assert summary[f"qa_heldout_{lang}"] == sum(len(f["heldout"]) for f in table if f["lang"] == lang), lang
        assert summary[f"heldout_documents_{lang}"] == 60, lang  # n_heldout_stories, each told in both languages
        assert summary[f"chats_{lang}"] == 1200 // 4, lang  # every fourth of the 1,200 training stories
    assert summary["qa_train_en"] + summary["qa_train_zh"] == len(corpus.qa_train)
    assert summary["documents_en"] + summary["documents_zh"] == len(corpus.documents)
    assert summary["characters"] == len("".join(d["text"] for d in corpus.documents))


def test_heldout_questions_never_trained(small_corpus):
    trained = {q.question for q in small_corpus.qa_train}
    assert small_corpus.qa_heldout
    assert not trained & {q.question for q in small_corpus.qa_heldout}
    stories = {d["text"] for d in small_corpus.documents}
    assert not stories & {d["text"] for d in small_corpus.heldout_documents}


def test_bilingual_and_every_fact_has_keys_in_its_answer():
    table = fact_table()
    assert {f["lang"] for f in table} == {"en", "zh"}
    for fact in table:
        assert fact["keys"], fact["id"]
        for key in fact["keys"]:  # the reference answer must pass its own check
            assert key.lower() in fact["answer"].lower(), (fact["id"], key)
        assert len(fact["wordings"]) >= 4 and len(fact["heldout"]) >= 2


def test_seed_lesson_content_is_covered():
    text = " ".join(f["answer"] for f in fact_table())
    for term in ["2026-07-30", "Foundry", "NVIDIA NIM", "Ollama", "ONNX Runtime GenAI", "Phi-3-mini", "Phi-3-small",
                 "Phi-3-medium", "Phi-3.5-mini", "Phi-3-vision", "Phi-3.5-vision", "Phi-3.5-MoE", "scale",
                 "understanding", "compute", "bias", "speed", "data collection", "preprocessing", "fine-tun",
                 "chatbots", "education", "accessibility", "退役", "微调"]:
        assert term in text, term



def test_asked_finds_a_question_and_its_twin_in_the_other_language(small_corpus):
    q = next(q for q in small_corpus.qa_heldout if q.lang == "zh")
    assert small_corpus.asked(q.question) == q
    twin = small_corpus.asked(q.question, "en")
    assert twin.fact == q.fact and twin.lang == "en" and twin.answer != q.answer
    with pytest.raises(KeyError):
        small_corpus.asked("Not a course question?")
