import torch

from course_lib.generation import chat, chat_batch, filter_probs, top_next_tokens


def test_greedy_puts_all_mass_on_argmax():
    logits = torch.tensor([1.0, 3.0, 2.0])
    assert filter_probs(logits, temperature=0).tolist() == [0.0, 1.0, 0.0]


def test_temperature_sharpens_and_flattens():
    logits = torch.tensor([1.0, 2.0, 3.0])
    cold, warm = filter_probs(logits, 0.5), filter_probs(logits, 2.0)
    assert cold.max() > torch.softmax(logits, 0).max() > warm.max()
    # by hand: T = 2 is softmax([0.5, 1, 1.5]) = e^0.5, e^1, e^1.5 over their sum (1.6487 + 2.7183 + 4.4817 = 8.8487)
    torch.testing.assert_close(warm, torch.tensor([0.18632, 0.30720, 0.50648]), atol=1e-5, rtol=0)


def test_top_k_and_top_p_keep_the_head():
    logits = torch.log(torch.tensor([0.5, 0.3, 0.15, 0.05]))
    assert (filter_probs(logits, 1.0, top_k=2) > 0).sum() == 2
    nucleus = filter_probs(logits, 1.0, top_p=0.7)
    assert (nucleus > 0).tolist() == [True, True, False, False]
    assert abs(float(nucleus.sum()) - 1) < 1e-6
    # the kept head is renormalised: 0.5 and 0.3 out of 0.8
    head = torch.tensor([0.625, 0.375, 0.0, 0.0])
    torch.testing.assert_close(filter_probs(logits, 1.0, top_k=2), head)
    torch.testing.assert_close(nucleus, head)
    torch.testing.assert_close(filter_probs(logits, 1.0, top_k=3), torch.tensor([0.5, 0.3, 0.15, 0.0]) / 0.95)
    torch.testing.assert_close(filter_probs(logits, 1.0, top_p=0.1), torch.tensor([1.0, 0.0, 0.0, 0.0]))  # first stays


def greedy_by_hand(model, tok, prompt, max_new_tokens):
    """Greedy decoding without generate(): one full forward pass per token, argmax, stop at <|end|> or <|endoftext|>."""
    text = tok.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=False)
    ids, new = tok(text, add_special_tokens=False)["input_ids"], []
    stops = {tok.convert_tokens_to_ids("<|end|>"), tok.convert_tokens_to_ids("<|endoftext|>")}
    with torch.no_grad():
        for _ in range(max_new_tokens):
            token = int(model(input_ids=torch.tensor([ids + new])).logits[0, -1].argmax())
            if token in stops:
                break
            new.append(token)
    return tok.decode(new, skip_special_tokens=True).strip()


def test_chat_on_a_random_model_returns_text(tiny_model, tok):
    prompts = ["What is an SLM?", "什么是 SLM？", "Tell me a story about a fox."]  # 11, 11 and 22 prompt tokens: padded
    replies = chat_batch(tiny_model, tok, prompts, max_new_tokens=5)
    assert len(replies) == 3 and all(isinstance(r, str) for r in replies)
    assert isinstance(chat(tiny_model, tok, "hi", max_new_tokens=3, temperature=0.8, top_k=5, top_p=0.9), str)
    # greedy chat is the reply alone (no prompt), as a hand-written greedy loop finds it; in a left-padded batch too
    assert replies == [greedy_by_hand(tiny_model, tok, p, 5) for p in prompts]
    assert chat(tiny_model, tok, prompts[1], max_new_tokens=5) == replies[1]
    # sampling: seeded, and with top_k=1 it can only pick the greedy token
    sampled = [chat(tiny_model, tok, "hi", max_new_tokens=3, temperature=0.8, top_k=5, top_p=0.9, seed=s) for s in (1, 1, 2)]
    assert sampled[0] == sampled[1] != sampled[2]
    assert chat(tiny_model, tok, "hi", max_new_tokens=3, temperature=0.8, top_k=1) == greedy_by_hand(tiny_model, tok, "hi", 3)


def test_top_next_tokens_are_sorted(tiny_model, tok):
    top = top_next_tokens(tiny_model, tok, "Once upon a time", k=5)
    probs = [p for _, p in top]
    assert probs == sorted(probs, reverse=True) and len(top) == 5
    # by another route: the first-step scores of generate() on the same text, as probabilities
    ids = tok("Once upon a time", return_tensors="pt", add_special_tokens=False)["input_ids"]
    out = tiny_model.generate(ids, max_new_tokens=1, do_sample=False, output_scores=True, return_dict_in_generate=True,
                              pad_token_id=tok.pad_token_id)
    want = torch.softmax(out.scores[0][0], -1).topk(5)
    assert [t for t, _ in top] == [tok.decode([int(i)]) for i in want.indices]
    torch.testing.assert_close(torch.tensor(probs), want.values, atol=1e-6, rtol=1e-4)
    # a setting that rules tokens out leaves them off: greedy keeps one token at probability 1
    assert top_next_tokens(tiny_model, tok, "Once upon a time", k=5, temperature=0) == [(top[0][0], 1.0)]


def test_model_note_says_how_big_the_model_is(tiny_model):
    from course_lib.generation import model_note

    assert model_note(tiny_model).startswith("tiny course model, 0.")
    # counted by hand: embeddings and untied head 2 x 600 x 32 = 38,400; per layer qkv 32 x 96 + o 32 x 32 + gate_up
    # 32 x 128 + down 64 x 32 + two norms 2 x 32 = 10,304, twice; final norm 32: 59,040
    assert model_note(tiny_model) == "tiny course model, 0.1M params"
    huge = torch.nn.Linear(62_000, 62_000, bias=False, device="meta")  # 3.844e9 parameters, no memory
    assert model_note(huge) == "real Phi, 3.8B params"


def test_count_reused_tokens_counts_ids_seen_before():
    from course_lib.generation import count_reused_tokens

    assert count_reused_tokens([1, 2], [2, 3, 3, 4]) == 2  # 2 is in the prompt; the second 3 repeats the reply
    assert count_reused_tokens([], []) == 0
