"""Measure a course model: held-out perplexity and held-out question accuracy, per language.

* Perplexity is exp(mean next-token loss) on stories that training never saw.
* Accuracy asks questions in wordings that training never saw, decodes
  greedily, and counts an answer as right when it contains every key term of
  the fact (a number or a name).
"""

from __future__ import annotations

import math

import torch

from course_lib.corpus import QA, Corpus
from course_lib.generation import chat_batch


@torch.no_grad()
def perplexity(model, tok, texts: list[str], batch_size: int = 16) -> float:
    """Token-weighted perplexity of the model on `texts`."""
    total_loss, total_tokens = 0.0, 0
    for start in range(0, len(texts), batch_size):
        chunk = texts[start:start + batch_size]
        side, tok.padding_side = tok.padding_side, "right"
        batch = tok(chunk, return_tensors="pt", padding=True, truncation=True, max_length=256, add_special_tokens=False)
        tok.padding_side = side
        labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
        logits = model(**batch).logits[:, :-1]
        targets = labels[:, 1:]
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1),
                                                 ignore_index=-100, reduction="sum")
        total_loss += float(loss)
        total_tokens += int((targets != -100).sum())
    return math.exp(total_loss / total_tokens)


def answer_questions(model, tok, questions: list[QA], batch_size: int = 32, max_new_tokens: int = 64) -> list[dict]:
    """Greedy answers to each question, with whether each is right."""
    rows = []
    for start in range(0, len(questions), batch_size):
        chunk = questions[start:start + batch_size]
        replies = chat_batch(model, tok, [q.question for q in chunk], max_new_tokens=max_new_tokens)
        rows += [{"question": q.question, "reply": r, "keys": q.keys, "lang": q.lang, "fact": q.fact,
                  "correct": q.is_correct(r)} for q, r in zip(chunk, replies, strict=True)]
    return rows


def evaluate_model(model, tok, corpus: Corpus, languages=("en", "zh"), limit: int | None = None) -> dict:
    """Held-out perplexity and accuracy for each language, e.g. {"en": {"perplexity": .., "accuracy": ..}}."""
    results = {}
    for lang in languages:
        texts = [d["text"] for d in corpus.heldout_documents if d["lang"] == lang]
        questions = [q for q in corpus.qa_heldout if q.lang == lang][:limit]
        rows = answer_questions(model, tok, questions)
        results[lang] = {
            "perplexity": round(perplexity(model, tok, texts[:limit]), 2),
            "accuracy": round(sum(r["correct"] for r in rows) / len(rows), 3),
            "questions": len(rows),
            "answers": rows,
        }
    return results
