"""course_lib.family: parameter counts on the meta device, MoE active parameters, the cited fact table, the table."""

import pytest
from transformers import Phi3Config, Phi3ForCausalLM, PhimoeConfig

from course_lib.family import (
    Table,
    find,
    load_family,
    memory_gb,
    meta_model,
    parameter_counts,
    phi35_mini_config,
    phi35_moe_config,
    plot_benchmark_vs_size,
)

H, FF, V, LAYERS, KV_DIM = 16, 24, 50, 2, 8  # hidden, expert intermediate, vocab, layers, 2 KV heads x head_dim 4


def tiny_moe(experts=4, top_k=2):
    return PhimoeConfig(vocab_size=V, hidden_size=H, intermediate_size=FF, num_hidden_layers=LAYERS, num_attention_heads=4,
                        num_key_value_heads=2, num_local_experts=experts, num_experts_per_tok=top_k,
                        max_position_embeddings=64)


def hand_count_moe(experts):
    attention = H * H + 2 * H * KV_DIM + H * H  # q, k, v, o
    per_layer = attention + experts * H + experts * 3 * H * FF + 2 * 2 * H  # router, experts (gate, up, down), 2 LayerNorms
    return 2 * V * H + LAYERS * per_layer + 2 * H  # embeddings + lm_head, layers, final LayerNorm


@pytest.mark.parametrize("top_k", [1, 2])
def test_moe_counts_match_a_hand_count(top_k):
    counts = parameter_counts(tiny_moe(experts=4, top_k=top_k))
    assert counts["total"] == hand_count_moe(4)
    unused_experts = 4 - top_k
    assert counts["active"] == counts["total"] - LAYERS * unused_experts * 3 * H * FF
    assert counts["active"] < counts["total"]


def test_moe_with_every_expert_chosen_is_all_active():
    counts = parameter_counts(tiny_moe(experts=2, top_k=2))
    assert counts["active"] == counts["total"] == hand_count_moe(2)


def test_dense_meta_count_equals_a_real_model_and_allocates_nothing():
    config = Phi3Config(vocab_size=V, hidden_size=H, intermediate_size=FF, num_hidden_layers=LAYERS, num_attention_heads=4,
                        num_key_value_heads=4, max_position_embeddings=64, original_max_position_embeddings=64,
                        pad_token_id=0, bos_token_id=0, eos_token_id=0)
    model = meta_model(config)
    assert {p.device.type for p in model.parameters()} == {"meta"}
    real = sum(p.numel() for p in Phi3ForCausalLM(config).parameters())
    assert parameter_counts(config) == {"total": real, "active": real}


def test_real_configs_agree_with_the_cited_sizes():
    family = load_family()
    mini, moe = parameter_counts(phi35_mini_config()), parameter_counts(phi35_moe_config())
    assert mini["total"] / 1e9 == pytest.approx(find(family, "Phi-3.5-mini")["params_b"], rel=0.02)
    assert moe["total"] / 1e9 == pytest.approx(find(family, "Phi-3.5-MoE")["params_b"], rel=0.02)
    assert moe["active"] / 1e9 == pytest.approx(find(family, "Phi-3.5-MoE")["active_params_b"], rel=0.02)


def test_every_number_in_the_fact_table_has_a_source():
    family = load_family()
    for entry in family["models"] + family["others"]:
        assert entry["sources"].get("params_b"), entry["name"]
        for benchmark in entry.get("benchmarks", {}):
            assert entry["sources"].get(benchmark), (entry["name"], benchmark)


def test_find_names_the_known_models_when_it_fails():
    with pytest.raises(KeyError, match="Phi-3.5-mini"):
        find(load_family(), "Phi-9")


def test_memory_per_precision():
    assert memory_gb(1_000_000_000, "fp32") == 4.0
    assert memory_gb(1_000_000_000, "fp16") == 2.0
    assert memory_gb(1_000_000_000, "int4") == 0.5


def test_table_renders_text_and_escaped_html():
    table = Table(["model", "score"], [["Phi<3>", 69.0], ["x", None]])
    text = repr(table).splitlines()
    assert text[0].split() == ["model", "score"] and text[2].split() == ["Phi<3>", "69.0"]
    assert "<td style='text-align:left'>Phi&lt;3&gt;</td>" in table._repr_html_()


def test_benchmark_plot_has_a_log_axis_and_cites_its_sources():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot
    fig = plot_benchmark_vs_size(load_family())
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert "arXiv 2404.14219" in fig.texts[0].get_text()
    labels = " ".join(t.get_text() for t in ax.texts)
    assert "6.6B active" in labels and "41.9B total" in labels
    matplotlib.pyplot.close(fig)
