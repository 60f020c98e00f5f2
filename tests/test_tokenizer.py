from course_lib.tokenizer import CHAT_TOKENS, stop_token_ids


def test_chat_tokens_are_single_special_tokens(tok):
    for token in CHAT_TOKENS:
        ids = tok(token, add_special_tokens=False)["input_ids"]
        assert len(ids) == 1 and ids[0] in tok.all_special_ids, token


def test_chat_template_is_phi35_format(tok):
    messages = [{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question"}]
    text = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert text == "<|system|>\nYou are a helpful assistant.<|end|>\n<|user|>\nQuestion<|end|>\n<|assistant|>\n"


def test_round_trip_english_and_chinese(tok):
    for text in ["Phi-3-mini has 3.8 billion parameters.", "小语言模型可以在手机上运行。", "mixed 中英 text"]:
        assert tok.decode(tok(text, add_special_tokens=False)["input_ids"]) == text


def test_chinese_is_split_per_character(tok):
    from transformers import AutoTokenizer

    from course_lib.models import model_dir

    # whole phrases are never merged into one token, even by this small test tokenizer,
    pieces = [tok.decode([i]) for i in tok("语言模型是小语言模型", add_special_tokens=False)["input_ids"]]
    assert all(len(piece) == 1 for piece in pieces), pieces
    # and in the shipped one (vocabulary 3,200) a common character is one token
    shipped = AutoTokenizer.from_pretrained(model_dir("tiny-phi-3.5-mini"))
    assert len(shipped("语言模型", add_special_tokens=False)["input_ids"]) == 4


def test_stop_tokens(tok):
    assert stop_token_ids(tok) == [tok.convert_tokens_to_ids("<|end|>"), tok.eos_token_id]
    # by another route: the trainer numbers the special tokens first, in SPECIAL_TOKENS order
    assert stop_token_ids(tok) == tok("<|end|><|endoftext|>", add_special_tokens=False)["input_ids"] == [4, 0]


def test_save_and_reload_with_auto_tokenizer(tok, tmp_path):
    from transformers import AutoTokenizer

    tok.save_pretrained(tmp_path)
    again = AutoTokenizer.from_pretrained(tmp_path)
    messages = [{"role": "user", "content": "你好"}]
    assert again.apply_chat_template(messages, add_generation_prompt=True, tokenize=False) == \
        tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
