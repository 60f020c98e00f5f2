import torch

from course_lib.generation import chat, chat_batch, filter_probs, top_next_tokens


def test_greedy_puts_all_mass_on_argmax():
    logits = torch.tensor([1.0, 3.0, 2.0])
    assert filter_probs(logits, temperature=0).tolist() == [0.0, 1.0, 0.0]


def test_temperature_sharpens_and_flattens():
    logits = torch.tensor([1.0, 2.0, 3.0])
    cold, warm = filter_probs(logits, 0.5), filter_probs(logits, 2.0)
    assert cold.max() > torch.softmax(logits, 0).max() > warm.max()


def test_top_k_and_top_p_keep_the_head():
    logits = torch.log(torch.tensor([0.5, 0.3, 0.15, 0.05]))
    assert (filter_probs(logits, 1.0, top_k=2) > 0).sum() == 2
    nucleus = filter_probs(logits, 1.0, top_p=0.7)
    assert (nucleus > 0).tolist() == [True, True, False, False]
    assert abs(float(nucleus.sum()) - 1) < 1e-6


def test_chat_on_a_random_model_returns_text(tiny_model, tok):
    replies = chat_batch(tiny_model, tok, ["What is an SLM?", "什么是 SLM？"], max_new_tokens=5)
    assert len(replies) == 2 and all(isinstance(r, str) for r in replies)
    assert isinstance(chat(tiny_model, tok, "hi", max_new_tokens=3, temperature=0.8, top_k=5, top_p=0.9), str)


def test_top_next_tokens_are_sorted(tiny_model, tok):
    top = top_next_tokens(tiny_model, tok, "Once upon a time", k=5)
    probs = [p for _, p in top]
    assert probs == sorted(probs, reverse=True) and len(top) == 5


def test_model_note_says_how_big_the_model_is(tiny_model):
    from course_lib.generation import model_note

    assert model_note(tiny_model).startswith("tiny course model, 0.")


def test_count_reused_tokens_counts_ids_seen_before():
    from course_lib.generation import count_reused_tokens

    assert count_reused_tokens([1, 2], [2, 3, 3, 4]) == 2  # 2 is in the prompt; the second 3 repeats the reply
    assert count_reused_tokens([], []) == 0
