"""course_lib.moe on a tiny random-init PhimoeForCausalLM, and the shipped tiny-phi-3.5-moe."""

import dataclasses

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PhimoeConfig, PhimoeForCausalLM

from course_lib.family import parameter_counts
from course_lib.models import is_built, model_dir
from course_lib.moe import (
    aux_loss,
    compare_languages,
    expert_load,
    moe_model_config,
    route,
    routing_counts,
    token_script,
    total_variation,
)

EXPERTS, TOP_K, LAYERS, HIDDEN, EXPERT_SIZE = 4, 2, 2, 32, 16


@pytest.fixture()
def tiny_moe(tok):
    """A 2-layer, 32-dim random-init Phi-3.5-MoE with 4 experts and top-2 routing."""
    torch.manual_seed(0)
    config = moe_model_config(tok, hidden_size=HIDDEN, layers=LAYERS, heads=2, experts=EXPERTS, top_k=TOP_K,
                              expert_size=EXPERT_SIZE, max_positions=256)
    return PhimoeForCausalLM(config).eval()


def test_route_gives_top2_experts_per_token_and_layer(tiny_moe, tok):
    routing = route(tiny_moe, tok, "The cat sat on the mat. 小猫坐在垫子上。")
    n = len(routing.tokens)
    assert routing.probs.shape == (LAYERS, n, EXPERTS)
    assert routing.chosen.shape == routing.weights.shape == (LAYERS, n, TOP_K)
    torch.testing.assert_close(routing.probs.sum(-1), torch.ones(LAYERS, n))
    assert (routing.chosen[..., 0] != routing.chosen[..., 1]).all()  # two different experts
    # the chosen experts are the router's two most probable ones, best first
    top2 = routing.probs.topk(TOP_K, dim=-1).indices
    assert torch.equal(routing.chosen, top2)
    assert ((routing.weights > 0) & (routing.weights <= 1)).all()


def test_route_weights_mix_the_layer_output(tiny_moe, tok):
    """Recompute layer 0's MoE block from the routing and compare it with the model's own output."""
    ids = tok("A small model.", return_tensors="pt", add_special_tokens=False)["input_ids"]
    routing = route(tiny_moe, tok, "A small model.")
    block = tiny_moe.model.layers[0].mlp
    captured = {}
    hook = block.register_forward_hook(lambda m, args, out: captured.update(x=args[0][0], y=out[0]))
    with torch.no_grad():
        tiny_moe(input_ids=ids)
    hook.remove()
    experts = block.experts
    expected = torch.zeros_like(captured["y"])
    for t in range(ids.shape[1]):
        for slot in range(TOP_K):
            e = int(routing.chosen[0, t, slot])
            gate, up = torch.nn.functional.linear(captured["x"][t], experts.gate_up_proj[e]).chunk(2)
            out = torch.nn.functional.linear(torch.nn.functional.silu(gate) * up, experts.down_proj[e])
            expected[t] += routing.weights[0, t, slot] * out
    torch.testing.assert_close(expected, captured["y"], rtol=1e-4, atol=1e-5)


def test_expert_load_rows_sum_to_one():
    chosen = torch.tensor([[[0, 1], [0, 2], [0, 1]], [[3, 2], [3, 2], [3, 2]]])  # 2 layers, 3 tokens, top-2
    load = expert_load(chosen, EXPERTS)
    torch.testing.assert_close(load.sum(-1), torch.ones(2))
    torch.testing.assert_close(load[0], torch.tensor([3, 2, 1, 0]) / 6)
    torch.testing.assert_close(load[1], torch.tensor([0, 0, 3, 3]) / 6)


def test_aux_loss_is_positive_and_near_top_k_at_init(tiny_moe, tok):
    value = aux_loss(tiny_moe, tok, ["The cat sat on the mat.", "小猫坐在垫子上。"])
    assert value > 0
    assert TOP_K * 0.8 < value <= EXPERTS  # even routing gives top_k; everything on top_k experts gives num_experts
    layers = aux_loss(tiny_moe, tok, ["The cat sat on the mat.", "小猫坐在垫子上。"], per_layer=True)
    assert len(layers) == LAYERS and all(TOP_K * 0.8 < v <= EXPERTS for v in layers)
    # the docstring's formula, num_experts x sum_i(f_i x P_i), from each text routed alone (no padding): f_i is expert
    # i's routing slots per token, P_i its mean router probability, over the real tokens of both texts
    routed = [route(tiny_moe, tok, text) for text in ["The cat sat on the mat.", "小猫坐在垫子上。"]]
    probs = torch.cat([r.probs for r in routed], dim=1)  # [layers, tokens, experts]
    slots = torch.nn.functional.one_hot(torch.cat([r.chosen for r in routed], dim=1), EXPERTS).sum(2).float()
    by_hand = EXPERTS * (slots.mean(1) * probs.mean(1)).sum(-1)
    torch.testing.assert_close(torch.tensor(layers), by_hand, rtol=1e-5, atol=1e-6)
    pooled = EXPERTS * (slots.flatten(0, 1).mean(0) * probs.flatten(0, 1).mean(0)).sum()  # all layers' tokens together
    assert value == pytest.approx(float(pooled), rel=1e-5)


def test_active_parameters_of_the_course_config(tok):
    config = moe_model_config(tok)
    counts = parameter_counts(config)
    one_expert = 3 * config.hidden_size * config.intermediate_size  # gate, up and down
    unused = config.num_hidden_layers * (config.num_local_experts - config.num_experts_per_tok) * one_expert
    assert counts["active"] == counts["total"] - unused
    # two active experts of 256 do the work of the dense model's one MLP of 512
    assert config.num_experts_per_tok * config.intermediate_size == 512
    assert config.output_router_logits and config.router_aux_loss_coef > 0


def test_token_script():
    assert token_script("猫") == "zh" and token_script("。") == "zh"
    assert token_script(" cat") == "en"
    assert token_script(" 42") is None and token_script(" ") is None


def test_routing_counts_and_language_comparison(tiny_moe, tok):
    docs = [{"text": "The cat sat on the mat.", "lang": "en"}, {"text": "The dog ran home.", "lang": "en"},
            {"text": "小猫坐在垫子上。", "lang": "zh"}, {"text": "小狗跑回家了。", "lang": "zh"}]
    counts = routing_counts(tiny_moe, tok, docs, batch_size=3)  # two batches, one of them padded
    assert counts.shape == (4, LAYERS, EXPERTS)
    for doc, row in zip(docs, counts, strict=True):
        ids = tok(doc["text"], add_special_tokens=False)["input_ids"]
        own = sum(token_script(tok.decode([i])) == doc["lang"] for i in ids)
        assert (row.sum(-1) == TOP_K * own).all()  # every token of the doc's script, top-2 slots each, per layer
        # and the experts are those route() sees for the doc alone, unpadded
        alone = route(tiny_moe, tok, doc["text"])
        keep = [i for i, t in enumerate(alone.tokens) if token_script(t) == doc["lang"]]
        assert torch.equal(row, torch.nn.functional.one_hot(alone.chosen[:, keep], EXPERTS).sum(dim=(1, 2)).float())
    result = compare_languages(counts, [d["lang"] for d in docs], shuffles=50)
    torch.testing.assert_close(result["en"].sum(-1), torch.ones(LAYERS))
    assert result["tv"].shape == (LAYERS,) and result["null_tv"].shape == (50, LAYERS)
    assert ((result["p_value"] > 0) & (result["p_value"] <= 1)).all()


def test_compare_languages_on_counts_made_by_hand():
    # 2 English then 2 Chinese docs, 2 layers. Layer 0: English uses experts 0 and 1, Chinese 2 and 3 (no overlap);
    # layer 1: every doc spreads evenly (no preference).
    even = [1.0, 1.0, 1.0, 1.0]
    counts = torch.tensor([[[3.0, 1.0, 0.0, 0.0], even], [[1.0, 3.0, 0.0, 0.0], even],
                           [[0.0, 0.0, 2.0, 2.0], even], [[0.0, 0.0, 2.0, 2.0], even]])
    result = compare_languages(counts, ["en", "en", "zh", "zh"], shuffles=300)
    torch.testing.assert_close(result["en"], torch.tensor([[0.5, 0.5, 0.0, 0.0], [0.25] * 4]))
    torch.testing.assert_close(result["zh"], torch.tensor([[0.0, 0.0, 0.5, 0.5], [0.25] * 4]))
    torch.testing.assert_close(result["tv"], torch.tensor([1.0, 0.0]))
    # shuffled labels: 2 of the 6 ways to pick 2 "Chinese" docs of 4 split them as they are (TV 1); the 4 mixed
    # ones give TV 0.25 (e.g. docs 0+2 against 1+3: shares 3,1,2,2 and 1,3,2,2 over 8)
    assert set(result["null_tv"][:, 0].tolist()) == {1.0, 0.25} and (result["null_tv"][:, 1] == 0).all()
    assert 0.2 < float(result["p_value"][0]) < 0.5  # about 1/3: four docs cannot show a preference
    assert float(result["p_value"][1]) == 1.0


def test_total_variation():
    p = torch.tensor([0.5, 0.5, 0.0, 0.0])
    assert float(total_variation(p, p)) == 0
    assert float(total_variation(p, torch.tensor([0.0, 0.0, 0.5, 0.5]))) == 1
    assert float(total_variation(p, torch.tensor([0.25, 0.25, 0.25, 0.25]))) == pytest.approx(0.5)


SHIPPED = "tiny-phi-3.5-moe"
needs_shipped = pytest.mark.skipif(not is_built(SHIPPED), reason="tiny-phi-3.5-moe is not built")


@needs_shipped
def test_shipped_moe_loads_with_auto_classes_and_answers_a_heldout_question():
    from course_lib.corpus import build_corpus
    from course_lib.generation import chat
    from course_lib.scoring import qa_correct

    model = AutoModelForCausalLM.from_pretrained(model_dir(SHIPPED))
    tok = AutoTokenizer.from_pretrained(model_dir(SHIPPED))
    assert isinstance(model.config, PhimoeConfig) and type(model).__name__ == "PhimoeForCausalLM"
    assert model.config.num_local_experts >= 4 and model.config.num_experts_per_tok == 2
    assert not model.config.output_router_logits  # the balancing loss was for training only
    heldout = build_corpus().qa_heldout
    for lang in ("en", "zh"):
        questions = [q for q in heldout if q.lang == lang][:8]
        right = sum(qa_correct(q, chat(model, tok, q.question, max_new_tokens=48)) for q in questions)
        assert right >= 5, lang


@needs_shipped
def test_shipped_moe_is_served_locally_as_phi_3_5_moe():
    from course_lib import clients

    reply = clients.chat("What is a small language model?", backend="local", model="phi-3.5-moe", max_tokens=32)
    assert reply.model == SHIPPED and reply.note == "tiny course model"
    assert str(reply).strip()


def test_lesson_figures_draw(tiny_moe, tok):
    import matplotlib

    matplotlib.use("Agg")
    from course_lib.plots import plot_dense_vs_moe, plot_expert_load, plot_language_routing, plot_routing_heatmap

    routing = route(tiny_moe, tok, "The cat sat on the mat.")
    docs = [{"text": "The cat sat.", "lang": "en"}, {"text": "小猫坐着。", "lang": "zh"}]
    result = compare_languages(routing_counts(tiny_moe, tok, docs), ["en", "zh"], shuffles=10)
    rows = [{"name": n, "total": 5e6, "active": 4e6, "perplexity": {"en": 1.3, "zh": 1.2}, "tokens_per_second": 500.0}
            for n in ("dense", "moe")]
    figures = [plot_routing_heatmap(routing.tokens, routing.probs, routing.chosen),
               plot_expert_load(expert_load(routing.chosen, EXPERTS), even=1 / EXPERTS),
               plot_language_routing(result), plot_dense_vs_moe(rows)]
    assert all(len(f.axes) >= 1 for f in figures)
    heatmap, load, languages, dense_vs_moe = figures
    for layer in range(LAYERS):  # each layer's panel shows its router probabilities, experts as rows
        torch.testing.assert_close(torch.as_tensor(heatmap.axes[layer].images[0].get_array()), routing.probs[layer].T)
    shares = expert_load(routing.chosen, EXPERTS)
    for e, bars in enumerate(load.axes[0].containers):  # one group of bars per expert, one bar per layer
        assert [bar.get_height() for bar in bars] == pytest.approx(shares[:, e].tolist())
    for layer, ax in enumerate(languages.axes):  # each layer's panel names its distance
        assert ax.get_title().startswith(f"layer {layer}\nTV {float(result['tv'][layer]):.2f} "), ax.get_title()
    shown = [t.get_text() for ax in dense_vs_moe.axes for t in ax.texts]
    assert shown == ["5.00", "5.00", "4.00", "4.00", "1.300", "1.300", "1.200", "1.200", "500", "500"]


def test_build_trains_the_moe_with_its_balancing_loss_and_saves_it_for_inference(small_corpus, tok, tmp_path):
    from course_lib.build import build_text_model, save_model
    from course_lib.train import TrainConfig

    quick = TrainConfig(steps=2, batch_size=2, block_size=32, warmup_steps=1)
    few = dataclasses.replace(small_corpus, qa_train=small_corpus.qa_train[:100])  # 2 steps need few examples
    model, losses = build_text_model("tiny-phi-3.5-moe", few, tok, pretrain=quick, finetune=quick)
    assert type(model).__name__ == "PhimoeForCausalLM" and len(losses["pretrain"]) == 2
    assert not model.config.output_router_logits  # on in training (the balancing loss), off in the saved model
    folder = save_model(model, tok, "tiny-phi-3.5-moe", tmp_path)
    reloaded = AutoModelForCausalLM.from_pretrained(folder)
    assert reloaded.config.num_experts_per_tok == 2 and (folder / "README.md").exists()
