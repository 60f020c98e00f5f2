from course_lib.corpus import build_corpus, fact_table


def test_same_seed_same_corpus():
    a, b = build_corpus(seed=3, n_stories=30, n_heldout_stories=3), build_corpus(seed=3, n_stories=30, n_heldout_stories=3)
    assert a.summary() == b.summary()
    assert [d["text"] for d in a.documents] == [d["text"] for d in b.documents]
    assert a.qa_train == b.qa_train


def test_default_size_is_deterministic():
    summary = build_corpus().summary()
    assert summary["qa_heldout_en"] == summary["qa_heldout_zh"] > 100
    assert summary["documents_en"] == summary["documents_zh"]


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

