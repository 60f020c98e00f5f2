"""The one scorer: every reference answer scores right, and every cheat the course has met scores wrong."""

import pytest

from course_lib.corpus import QA, build_corpus, fact_table
from course_lib.scoring import echoes, judge_qa, judge_vision, language_of, qa_correct, quantities, vision_correct
from course_lib.vision_data import TASKS, VisionExample, make_examples

# The one pair of facts where another fact's answer is a right answer: asked whether GitHub Models is still
# available, "a call now returns HTTP 410 Gone, because the service was retired on 2026-07-30" is one.
SAME_ANSWER = {("status:GitHub Models", "github_410")}


@pytest.fixture(scope="module")
def corpus():
    return build_corpus()


@pytest.fixture(scope="module")
def table():
    return fact_table()


def qa(fact_id, lang="en", question="?"):
    fact = next(f for f in fact_table() if f["id"] == fact_id and f["lang"] == lang)
    return QA(question, fact["answer"], lang, fact_id, fact["keys"])


def test_every_reference_answer_scores_right(corpus):
    # A few terse training questions ("generative AI?") are short enough to sit inside their own answer, where
    # the scorer's echo rule rightly fires: a reply that only repeats such a question is no answer. All else passes.
    every = corpus.qa_heldout + corpus.qa_train
    inside = [q for q in every if echoes(q.question, q.answer)]
    assert len(inside) <= 20 and all(q in corpus.qa_train and len(q.question.split()) <= 6 for q in inside)
    # Past the echo rule the question plays no part in a verdict: judge each fact's reference answer once.
    answers = {(q.fact, q.lang, q.answer): QA("", q.answer, q.lang, q.fact, q.keys) for q in every}
    wrong = [(q.fact, q.lang, judge_qa(q, q.answer).reason) for q in answers.values() if not qa_correct(q, q.answer)]
    assert not wrong and len(answers) >= 248


def test_a_dump_of_every_key_scores_wrong(corpus, table):
    for lang, joiner in (("en", ", "), ("zh", "、")):
        dump = joiner.join(key for fact in table if fact["lang"] == lang for key in fact["keys"])
        right = [q.fact for q in corpus.qa_heldout if q.lang == lang and qa_correct(q, dump)]
        assert not right, (lang, right)


def test_the_question_echoed_back_scores_wrong(corpus):
    assert not [q.question for q in corpus.qa_heldout if qa_correct(q, q.question)]
    q = qa("what_is_slm", question="What is a small language model with fewer parameters?")
    assert judge_qa(q, "What is a small language model with fewer parameters?").reason == "repeats the question"


def test_another_facts_reference_answer_scores_wrong(corpus, table):
    right = {(q.fact, f["id"]) for q in corpus.qa_heldout for f in table
             if f["lang"] == q.lang and f["id"] != q.fact and qa_correct(q, f["answer"])}
    assert right <= SAME_ANSWER, right - SAME_ANSWER


def test_a_reply_in_the_other_language_scores_wrong(table):
    for fact in table:
        other = next(f for f in table if f["id"] == fact["id"] and f["lang"] != fact["lang"])
        q = QA("?", fact["answer"], fact["lang"], fact["id"], fact["keys"])
        assert not qa_correct(q, other["answer"]), (fact["id"], fact["lang"])


def test_an_english_reply_with_the_right_number_is_wrong_in_chinese():
    # what tiny-phi-3-mini does with a Chinese question: it answers in English, sometimes with the right number
    q = qa("params:Phi-3-mini", "zh", "Phi-3-mini 有多少参数？")
    verdict = judge_qa(q, "Phi-3-mini has 3.8 billion parameters.")
    assert not verdict and "written in en" in verdict.reason
    assert qa_correct(q, "Phi-3-mini 有 38 亿个参数。") and qa_correct(q, "它有 3.8B 参数。")


@pytest.mark.parametrize("fact_id, lang, reply", [
    ("params:Phi-3-medium", "en", "It runs about 12 tokens per second on an iPhone 14."),  # 14 inside a phone's name
    ("params:Phi-3-medium", "en", "Phi-3-vision uses a CLIP ViT-L/14 image encoder."),  # ... and a ViT's
    ("params:Phi-3-medium", "en", "Phi-3-medium has 14 parameters."),  # the number without its scale
    ("context:Phi-3-small", "en", "Phi-3-small reads 128K tokens."),  # 8K inside 128K
    ("phi35_languages", "en", "It was retired on 2026-07-30."),  # 20 inside a date
    ("params:Phi-3-small", "en", "It is the size of Mistral 7B."),  # 7 billion inside a model name
    ("params:Phi-3.5-mini", "en", "Phi-3.5-mini has 3.5 parameters."),  # the version is not the size
    ("mmlu:Phi-3-medium", "en", "Phi-3-medium scores 78.9 on MMLU."),  # 78 inside 78.9
    ("story:Phi-3-small", "en", "Phi-3-small beats GPT-3.55."),  # a name inside a longer number
    ("status:Ollama", "en", "Ollama listens on port 114340."),  # 11434 inside a bigger number
    ("params:Phi-3-mini", "zh", "Phi-3-mini 有 3.8 个参数。"),  # 3.8 is not 38 亿
])
def test_number_traps_score_wrong(fact_id, lang, reply):
    assert not qa_correct(qa(fact_id, lang), reply)


def test_numbers_are_read_by_value_in_both_languages():
    assert quantities("38 亿（3.8B），1.76 万亿, 128K, 128,000, 7 billion, 69%") == [3.8e9, 3.8e9, 1.76e12, 128e3, 128e3, 7e9, 69]
    assert quantities("Phi-3.5-mini, GPT-4, Mistral 7B, iPhone 14, ViT-L/14, 2026-07-30, int4, 4 bits") == [4]
    assert qa_correct(qa("params:Phi-3-medium"), "Phi-3-medium has 14B parameters.")
    assert qa_correct(qa("context:Phi-3.5-mini"), "Phi-3.5-mini reads 128,000 tokens of context, thanks to LongRoPE.")
    assert qa_correct(qa("phi35_languages", "zh"), "Phi-3.5-mini 支持20多种语言，其中包括中文。")


def test_another_subjects_value_or_subject_scores_wrong():
    q = qa("params:Phi-3-mini")
    assert not qa_correct(q, "Phi-3-mini has 3.8 billion parameters; Phi-3-medium has 14 billion.")  # a list
    assert not qa_correct(q, "Phi-3.5-mini has 3.8 billion parameters.")  # the same value, about another model
    assert qa_correct(q, "It has 3.8 billion parameters.")


def test_language_of():
    assert language_of("Phi-3-mini has 3.8 billion parameters.") == "en"
    assert language_of("为 NVIDIA NIM 设置 NVIDIA_API_KEY。") == "zh"
    assert language_of("Phi-3-mini has 3.8 billion parameters (38 亿).") == "mixed"
    assert language_of("3.8") == ""


# ---- pictures ---------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pictures():
    return make_examples(4, seed=99)


def test_every_training_reply_scores_right(pictures):
    assert all(vision_correct(ex, ex.reply) for ex in pictures)


def test_picture_cheats_score_wrong(pictures):
    for ex in pictures:
        assert not vision_correct(ex, ex.question), ex.task  # the echo, "...the first or the second?" included
        assert not vision_correct(ex, ""), ex.task
    every = {"color": "red orange yellow green blue purple", "shape": "circle, square or triangle",
             "chart": "A B C D", "two_images": "the first or the second", "count": "1 2 3 4 5",
             "reading": "0 1 2 3 4 5 6 7 8 9"}
    for task in TASKS:
        ex = next(e for e in pictures if e.task == task)
        assert not vision_correct(ex, every[task]), task
        assert not judge_vision(ex, every[task]).correct


@pytest.mark.parametrize("task, answer, reply, right", [
    ("reading", "47", "The number is 47.", True),
    ("reading", "47", "The number is 147.", False),
    ("reading", "47", "The number is 4 7.", False),
    ("reading", "47", "数字是 47。", False),
    ("count", "3", "There are three shapes.", True),
    ("count", "3", "There are 3 shapes, or 4.", False),
    ("chart", "B", "Bar B is the tallest.", True),
    ("chart", "B", "A bar: B.", False),
    ("color", "red", "The shape is red.", True),
    ("color", "red", "The shape is red or orange.", False),
    ("shape", "circle", "It is a circle.", True),
    ("two_images", "first", "The first image shows a red shape.", True),
    ("two_images", "first", "The first or the second.", False),
])
def test_picture_replies(task, answer, reply, right):
    ex = VisionExample(task, [], "?", answer)
    assert vision_correct(ex, reply) is right
