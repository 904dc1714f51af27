"""GPT-2 (HF `model_type` "gpt2"): GPT2Model / GPT2LMHeadModel directories -> GPTBackbone
(pre-LN blocks and a final LayerNorm) and CausalLM.

Layouts: HF GPT-2 keeps OpenAI's `Conv1D`, y = x W + b with W stored
`[in, out]`, so kernels go to Keras as they are (no transpose, unlike
`nn.Linear`). `attn.c_attn` fuses the query, key and value projections into
one `[D, 3D]` kernel (columns q | k | v, each head-major: column n * H + h);
it is split and reshaped to our MultiHeadAttention `[D, N, H]` kernels,
`attn.c_proj` `[D, D]` to the `[N, H, D]` output kernel.

Output layer: `lm_head.weight` is tied to `wte` (GPT-2 section 2.3 keeps
GPT-1's shared input/output embedding); a checkpoint that stores it must store
the same table. `attn.bias` / `attn.masked_bias` (causal-mask buffers written
by older transformers versions) are not weights and are skipped.

Not supported (a CheckpointError names the field): `scale_attn_weights=False`,
`scale_attn_by_inverse_layer_idx=True` (Mistral's stability trick),
cross-attention, and activations outside `hf_common.ACTIVATIONS`.
`reorder_and_upcast_attn=True` is accepted: it only computes q k^T in
float32 with the 1/sqrt(H) scale applied first, which in a float32 model is
the same product (checked by tests/data/make_hf_gpt2_reference.py).
"""

import numpy as np

from kerasnlp_lite.checkpoints import hf_common as common

PREFIXES = ("", "transformer.")
# Causal-mask buffers, not weights (".attn.bias" does not match "c_attn.bias").
IGNORE = (".attn.bias", ".attn.masked_bias")
TASKS = (None, "causal_lm")

# Config fields whose non-default values change the computation in ways the backbone does not have.
UNSUPPORTED = {
    "scale_attn_weights": (True, "attention logits not divided by sqrt(head size)"),
    "scale_attn_by_inverse_layer_idx": (False, "attention logits divided by the layer index + 1"),
    "add_cross_attention": (False, "cross-attention blocks"),
}


def backbone_kwargs(config):
    for field, (default, what) in UNSUPPORTED.items():
        value = config.get(field, default)
        if value != default:
            raise common.CheckpointError(f"Unsupported GPT-2 config {field}={value!r} ({what}); only {default!r}.")
    activation = config.get("activation_function", "gelu_new")
    if activation not in common.ACTIVATIONS:
        raise common.CheckpointError(
            f"Unsupported GPT-2 config activation_function={activation!r}; supported: {sorted(common.ACTIVATIONS)}."
        )
    hidden_dim = config["n_embd"]
    return dict(
        vocabulary_size=config["vocab_size"],
        num_layers=config["n_layer"],
        num_heads=config["n_head"],
        hidden_dim=hidden_dim,
        intermediate_dim=config.get("n_inner") or 4 * hidden_dim,  # None: 4D, as GPT2MLP
        max_sequence_length=config["n_positions"],
        norm_first=True,
        final_norm=True,
        dropout=config.get("resid_pdrop", 0.1),
        activation=common.ACTIVATIONS[activation],
        layer_norm_epsilon=config.get("layer_norm_epsilon", 1e-5),
    )


def _checked(name, value, shape):
    if tuple(value.shape) != tuple(shape):
        raise common.CheckpointError(
            f"Shape mismatch for {name!r}: checkpoint {tuple(value.shape)}, expected {tuple(shape)}."
        )
    return value


def conv1d(weights, layer, name):
    """HF Conv1D (weight `[in, out]`) -> Keras Dense: the same layout."""
    weights.assign(layer.kernel, f"{name}.weight")
    weights.assign(layer.bias, f"{name}.bias")


def attention(weights, mha, prefix):
    """`{prefix}.c_attn` (fused q | k | v) and `{prefix}.c_proj` -> MultiHeadAttention kernels."""
    d, n, h = mha.query_kernel.shape
    kernel_name, bias_name = f"{prefix}.c_attn.weight", f"{prefix}.c_attn.bias"
    # [D, 3D] -> three [D, D] column blocks -> [D, N, H] each.
    kernel = _checked(kernel_name, weights.get(kernel_name), (d, 3 * n * h))
    bias = _checked(bias_name, weights.get(bias_name), (3 * n * h,))
    for i, ours in enumerate(("query", "key", "value")):
        columns = slice(i * n * h, (i + 1) * n * h)
        getattr(mha, f"{ours}_kernel").assign(kernel[:, columns].reshape(d, n, h).astype(np.float32))
        getattr(mha, f"{ours}_bias").assign(bias[columns].reshape(n, h).astype(np.float32))
    # [N*H, D] (rows: merged heads, head-major) -> [N, H, D].
    name = f"{prefix}.c_proj.weight"
    weights.assign(mha.output_kernel, name, lambda w: _checked(name, w, (n * h, d)).reshape(n, h, d))
    weights.assign(mha.output_bias, f"{prefix}.c_proj.bias")


def load_backbone(backbone, weights):
    embedding = backbone.embedding
    weights.assign(embedding.token_embedding.embeddings, "wte.weight")
    weights.assign(embedding.position_embedding.embeddings, "wpe.weight")
    for i, block in enumerate(backbone.decoder_blocks):
        p = f"h.{i}"
        # Pre-LN: ln_1 feeds attention, ln_2 the MLP.
        common.layer_norm(weights, block.self_attention_norm, f"{p}.ln_1")
        attention(weights, block.self_attention, f"{p}.attn")
        common.layer_norm(weights, block.feed_forward_norm, f"{p}.ln_2")
        conv1d(weights, block.feed_forward.intermediate_dense, f"{p}.mlp.c_fc")
        conv1d(weights, block.feed_forward.output_dense, f"{p}.mlp.c_proj")
    common.layer_norm(weights, backbone.final_layer_norm, "ln_f")


def load(config, weights, task, num_classes):
    from kerasnlp_lite import models

    if task not in TASKS:
        raise ValueError(f"GPT-2 checkpoints load as tasks {TASKS}, got task={task!r}.")
    backbone = models.GPTBackbone(**backbone_kwargs(config))
    load_backbone(backbone, weights)
    if task != "causal_lm":
        if weights.has("lm_head.weight"):
            weights.get("lm_head.weight")  # the head of a GPT2LMHeadModel: not part of the backbone
        return backbone
    if not config.get("tie_word_embeddings", True):
        # An untied model must store its head; tied() below then checks it equals wte.
        weights.get("lm_head.weight")
    weights.tied("lm_head.weight", "wte.weight")
    return models.CausalLM(backbone)
