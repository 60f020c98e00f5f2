"""Every exercise passes its solution, fails wrong answers with a hint, waits on the placeholder; every quiz is well formed."""

import json

import pytest

from course_lib.checks import check, grade, run_solution, solution_code
from course_lib.exercises import all_exercises
from course_lib.paths import DATA_DIR, LESSONS_DIR
from course_lib.quiz import load_quiz

EXERCISES = all_exercises()

# None and `...` are the placeholders a lesson cell starts with: they get "your turn", not a hint (see below).
WRONG = {
    "00-param-count": ["3.9", 3.8e9, 1000.0],
    "01-temperature": [lambda logits, t: logits, lambda logits, t: __import__("torch").softmax(logits, -1)],
    "01-count-tokens": ["12", 11, 0],
    "01-top-p": [lambda p, t: p, lambda p, t: None, lambda p, t: (p >= p.max()).float()],
    "02-llm-gpus": [3520.0, 43, 88, 11, "44"],
    "02-bytes-needed": [1.9e9, lambda p, b: None, lambda p, b: p * b, lambda p, b: p * b / 8 / 1e9, lambda p, b: p * b // 8],
    "03-label-mask": [lambda p, a: p + a, lambda p, a: [-100] * (len(p) + len(a))],
    "03-lora-share": ["0.03", 0.5, 50.0, 2.85],
    "04-int4-gb": [7.64, 1.91e9, 15.28, "1.9 GB"],
    "04-moe-active": [6.6e9, lambda c, t: None, lambda c, t: t, lambda c, t: t * c.num_experts_per_tok // c.num_local_experts,
                      lambda c, t: t - c.num_hidden_layers * (c.num_local_experts - c.num_experts_per_tok) * 2 * c.hidden_size
                      * c.intermediate_size],
    "05-nim-model": ["tiny-phi-3.5-mini", "phi-3.5-mini"],
    "05-next-request": [lambda h, u: None, lambda h, u: [{"role": "user", "content": u}], lambda h, u: h.append(u) or h],
    "06-greedy-kwargs": ["do_sample=False", {"do_sample": True}, {"temperature": 0.0}, {"do_sample": False, "num_beams": 4},
                         {"do_sample": False, "repetition_penalty": 2.0}],
    "07-two-image-tokens": [3.5, 0, 300],
    "07-image-tokens": [576, lambda size, patch: None, lambda size, patch: size // patch,
                        lambda size, patch: (size // patch) ** 2 + 1],
    "08-top2": [[1, 2], lambda p: None, lambda p: sorted(range(len(p)), key=lambda i: p[i])[:2],
                lambda p: sorted(p, reverse=True)[:2], lambda p: sorted(range(len(p)), key=lambda i: p[i], reverse=True)[1::-1],
                lambda p: [max(range(len(p)), key=p.__getitem__)]],
    "08-balance-loss": [2.0, lambda logits, k: None, lambda logits, k: logits.softmax(-1).mean(0).max(),
                        lambda logits, k: (__import__("torch").bincount(logits.topk(k).indices.flatten(),
                                                                        minlength=logits.shape[1])
                                           / logits.shape[0] * logits.softmax(-1).mean(0)).sum()],
    "09-int4-ratio": ["3.3x", 8, 0.3, 15.8],
    "09-greedy-loop": [[], lambda m, t, ids, n: None, lambda m, t, ids, n: list(ids), lambda m, t, ids, n: [0] * n],
    "10-ceiling": [26.3, lambda bw, p, b: None, lambda bw, p, b: bw / (p * b), lambda bw, p, b: p * b / 8 / bw],
    "10-decode-rate": [50.0, lambda t: None, lambda t: len(t) / (t[-1] - t[0]), lambda t: len(t) / t[-1]],
    "06-phi3-prompt": ["<|user|>\n", lambda msgs: "".join(m["content"] for m in msgs),
                       lambda msgs: "".join(f"<|{m['role']}|>\n{m['content']}<|end|>\n" for m in msgs)],
    "11-trim-history": [[], lambda m, f: m, lambda m, f: m[-1:], lambda m, f: [x for x in m if x["role"] != "assistant"]],
}


def stub(*args):
    ...  # your code here


def documented_stub(*args):
    """What the lesson asks for."""
    ...


PLACEHOLDERS = [None, ..., stub, documented_stub]


def test_every_exercise_has_wrong_answers():
    assert set(WRONG) == set(EXERCISES)


@pytest.mark.parametrize("exercise_id", sorted(EXERCISES))
def test_solution_passes(exercise_id, capsys):
    assert check(exercise_id, run_solution(exercise_id)) is None  # nothing for a lesson cell to display
    assert "✅" in capsys.readouterr().out


@pytest.mark.parametrize("exercise_id", sorted(EXERCISES))
def test_solution_as_shown_runs_and_passes(exercise_id):
    """What show_solution prints is the code a learner types in the lesson cell: run it, and check what it defines."""
    ex = EXERCISES[exercise_id]
    namespace: dict = {}
    exec(solution_code(exercise_id), namespace)
    answer = namespace[ex.answer_variable or ex.solution.__name__]
    assert grade(exercise_id, answer).passed


@pytest.mark.parametrize("exercise_id", sorted(EXERCISES))
def test_wrong_answers_fail_with_a_hint(exercise_id, capsys):
    for wrong in WRONG[exercise_id]:
        check(exercise_id, wrong)
        out = capsys.readouterr().out
        assert "❌" in out and "show_solution" in out, wrong


@pytest.mark.parametrize("exercise_id", sorted(EXERCISES))
def test_placeholder_is_your_turn_not_a_failure(exercise_id, capsys):
    for placeholder in PLACEHOLDERS:
        assert grade(exercise_id, placeholder).passed is None
        check(exercise_id, placeholder)
        out = capsys.readouterr().out
        assert "✏️" in out and "your turn" in out
        assert "❌" not in out and "show_solution" not in out and out.count("\n") == 1


def test_every_exercise_has_a_tier():
    assert {ex.tier for ex in EXERCISES.values()} <= {"🐢", "🐕", "🦁"}


def lessons():
    return sorted(p.stem for p in LESSONS_DIR.glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("lesson", lessons())
def test_every_lesson_has_a_quiz_with_one_right_answer_and_explanations(lesson):
    quiz = load_quiz(lesson)
    assert len(quiz.questions) >= 3
    for q in quiz.questions:
        assert 0 <= q.answer < len(q.options) and len(q.options) >= 3
        right = [i for i in range(len(q.options)) if q.feedback(i)[0]]
        assert right == [q.answer]
        assert len(q.explanation) > 20


@pytest.mark.parametrize("lesson", lessons())
def test_every_lesson_uses_its_quiz_and_a_check(lesson):
    text = (LESSONS_DIR / f"{lesson}.ipynb").read_text(encoding="utf-8")
    assert f'load_quiz(\\"{lesson}\\")' in text
    assert "check(\\\"" in text
    assert "Learning objectives" in text


def test_quiz_renders_as_text_and_html():
    quiz = load_quiz("01_what_is_an_slm")
    assert "1." in quiz.as_text()
    assert "<details>" in quiz.as_html()
    assert quiz.answer(0, quiz.questions[0].answer).startswith("✅")
    assert quiz.answer(0, (quiz.questions[0].answer + 1) % 4).startswith("❌")


def test_quiz_file_lists_only_existing_lessons():
    quizzes = json.loads((DATA_DIR / "quizzes.json").read_text(encoding="utf-8"))
    assert set(quizzes) - {"_about"} == set(lessons())


def test_a_hint_is_the_first_whole_sentence_in_either_language():
    from course_lib.quiz import first_sentence

    assert first_sentence("Secrets go in .env, which is git-ignored. The rest.") == "Secrets go in .env, which is git-ignored"
    assert first_sentence("Phi-3.5-mini has 3.8B parameters. More.") == "Phi-3.5-mini has 3.8B parameters"
    assert first_sentence("内存取决于总参数量。84 GB 装不下。") == "内存取决于总参数量"
    assert first_sentence("No full stop at all") == "No full stop at all"


@pytest.mark.parametrize("quizzes", ["quizzes.json", "i18n/zh-CN/quizzes.json"])
def test_no_quiz_hint_is_cut_mid_sentence(quizzes):
    """A wrong pick shows the explanation's first sentence: it must be a sentence, not 'Secrets go in ' or 'Phi-3'."""
    from course_lib.quiz import first_sentence

    for lesson, questions in json.loads((DATA_DIR / quizzes).read_text(encoding="utf-8")).items():
        for q in questions if lesson != "_about" else []:
            hint = first_sentence(q["explanation"])
            assert len(hint) >= (6 if "zh-CN" in quizzes else 20) and not hint.endswith((" ", "-", "(")), (lesson, hint)


@pytest.mark.parametrize("value", ["1", "true", "yes"])
def test_a_facilitator_can_hide_solutions_and_still_has_the_answer_key(value, monkeypatch, capsys):
    from course_lib.__main__ import main
    from course_lib.checks import show_solution

    monkeypatch.setattr("course_lib.backends.load_env_file", lambda: False)  # the developer's own .env stays out
    code = solution_code("11-trim-history")
    monkeypatch.setenv("COURSE_HIDE_SOLUTIONS", value)
    show_solution("11-trim-history")
    hidden = capsys.readouterr().out
    assert "🔒" in hidden and "COURSE_HIDE_SOLUTIONS" in hidden and "def trim_history" not in hidden
    assert "✅" in str(grade("11-trim-history", run_solution("11-trim-history")))  # checking still works
    assert main(["solutions", "11"]) == 0  # the facilitator's answer key ignores the flag
    key = capsys.readouterr().out
    assert code in key and "11-trim-history" in key and "01-temperature" not in key
    monkeypatch.setenv("COURSE_HIDE_SOLUTIONS", "0")
    show_solution("11-trim-history")
    assert code in capsys.readouterr().out


def test_the_answer_key_covers_every_exercise(capsys):
    from course_lib.__main__ import main

    assert main(["solutions"]) == 0
    key = capsys.readouterr().out
    assert all(f"## {id} " in key for id in all_exercises())
