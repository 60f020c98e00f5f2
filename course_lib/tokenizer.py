"""One bilingual byte-level BPE tokenizer, shared by every course model.

It is trained with Hugging Face ``tokenizers`` on the course corpus and saved
as a ``PreTrainedTokenizerFast``, so ``AutoTokenizer.from_pretrained(folder)``
loads it. It carries the Phi-3 chat tokens and Phi-3.5-mini-instruct's chat
template, so a prompt for a course model looks exactly like one for the real
model.
"""

from __future__ import annotations

from collections.abc import Iterable

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

# The Phi-3 chat tokens, plus an image placeholder reserved for the vision model.
CHAT_TOKENS = ["<|endoftext|>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"]
RESERVED_TOKENS = ["<image>"]
SPECIAL_TOKENS = CHAT_TOKENS + RESERVED_TOKENS
CJK_CHARACTER = r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]"  # CJK punctuation, ideographs, full-width forms

# Phi-3.5-mini-instruct's template (tokenizer_config.json on the Hub), unchanged.
PHI3_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'system' and message['content'] %}"
    "{{'<|system|>\n' + message['content'] + '<|end|>\n'}}"
    "{% elif message['role'] == 'user' %}"
    "{{'<|user|>\n' + message['content'] + '<|end|>\n'}}"
    "{% elif message['role'] == 'assistant' %}"
    "{{'<|assistant|>\n' + message['content'] + '<|end|>\n'}}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}"
    "{{ '<|assistant|>\n' }}"
    "{% else %}"
    "{{ eos_token }}"
    "{% endif %}"
)


def train_tokenizer(texts: Iterable[str], vocab_size: int = 4096) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE tokenizer: any UTF-8 text, Chinese included, can be encoded."""
    bpe = Tokenizer(models.BPE())
    # Chinese has no spaces, so byte-level BPE would merge whole memorised phrases into one token.
    # Splitting off each CJK character first gives about one token per common character, as Phi-3 does.
    bpe.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(CJK_CHARACTER), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False),
    ])
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(texts, trainer)
    return wrap(bpe)


def wrap(bpe: Tokenizer) -> PreTrainedTokenizerFast:
    """Give a raw ``tokenizers`` object the Phi-3 special tokens and chat template."""
    tok = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        additional_special_tokens=CHAT_TOKENS[1:] + RESERVED_TOKENS,
        clean_up_tokenization_spaces=False,
        model_max_length=512,
    )
    tok.chat_template = PHI3_CHAT_TEMPLATE
    return tok


def stop_token_ids(tok) -> list[int]:
    """Generation stops at <|end|> (end of a turn) or <|endoftext|>, as in Phi-3.5's generation_config."""
    return [tok.convert_tokens_to_ids("<|end|>"), tok.convert_tokens_to_ids("<|endoftext|>")]
