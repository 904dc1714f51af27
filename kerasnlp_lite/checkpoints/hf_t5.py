"""T5 v1.0 (HF `model_type` "t5"): T5Model / T5ForConditionalGeneration directories ->
T5Backbone and Seq2SeqLM.

Layouts: every projection is a bias-free torch `nn.Linear` (weight
`[out, in]`), so kernels are transposed. `SelfAttention` / `EncDecAttention`
`{q,k,v}` `[N*d_kv, D]` become our MultiHeadAttention `[D, N, d_kv]` kernels
(rows head-major), `o` `[D, N*d_kv]` the `[N, d_kv, D]` output kernel; d_kv
need not be d_model / num_heads. T5 has no 1/sqrt(d_kv) in its attention
logits (T5Backbone's attention_scale=1.0), so the query kernels load as they
are. Name map:

    shared                                       backbone.token_embedding (one table)
    encoder.block.i.layer.0.SelfAttention        block.self_attention
                        .layer.0.layer_norm      block.self_attention_norm (RMS, pre-norm)
    encoder.block.i.layer.1.DenseReluDense.wi/wo block.feed_forward.intermediate_dense / output_dense
                        .layer.1.layer_norm      block.feed_forward_norm
    decoder.block.i.layer.1.EncDecAttention      block.cross_attention_layer
                        .layer.1.layer_norm      block.cross_attention_norm
    decoder.block.i.layer.2                      the decoder's feed-forward (as encoder layer.1)
    {encoder,decoder}.block.0.layer.0.SelfAttention.relative_attention_bias
                                                 {encoder,decoder}_relative_position_bias
                                                 ([num_buckets, N]; block 0's table, which
                                                 T5 shares across the blocks of a stack)
    {encoder,decoder}.final_layer_norm           {encoder,decoder}_final_norm

Tied tables: `encoder.embed_tokens` / `decoder.embed_tokens` and `lm_head`
must equal `shared` when stored. `decoder.block.0.layer.1.EncDecAttention.
relative_attention_bias` (in some older checkpoints) is never used by T5
(cross-attention has no position bias) and is skipped, as transformers does.
Logits: T5 v1.0 multiplies the decoder output by d_model^-1/2 before the tied
table (HF `scale_decoder_outputs`), T5Backbone's `logit_scale`.

Not supported (a CheckpointError names the field): gated feed-forwards
(`feed_forward_proj="gated-gelu"`, T5 v1.1 / Flan-T5 / mT5),
`tie_word_embeddings=False` or `scale_decoder_outputs=False` (v1.1's untied,
unscaled output layer), and activations outside `hf_common.ACTIVATIONS`.
"""

import numpy as np

from kerasnlp_lite.checkpoints import hf_bart
from kerasnlp_lite.checkpoints import hf_common as common

PREFIXES = ("",)
# Never used by T5 (transformers lists it in _keys_to_ignore_on_load_unexpected).
IGNORE = ("decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight",)
TASKS = (None, "seq2seq_lm")

UNSUPPORTED = {
    "tie_word_embeddings": (True, "an output layer untied from the token table (T5 v1.1)"),
    "scale_decoder_outputs": (True, "logits without the d_model^-1/2 rescaling (T5 v1.1)"),
}


def backbone_kwargs(config):
    projection = config.get("feed_forward_proj", "relu")
    if projection.startswith("gated-"):
        raise common.CheckpointError(
            f"Unsupported T5 config feed_forward_proj={projection!r} (a gated feed-forward, T5 v1.1 / Flan-T5 / "
            "mT5); only T5 v1.0's plain feed-forward, e.g. 'relu'."
        )
    if projection not in common.ACTIVATIONS:
        raise common.CheckpointError(
            f"Unsupported T5 config feed_forward_proj={projection!r}; supported: {sorted(common.ACTIVATIONS)}."
        )
    hf_bart.check_unsupported(config, UNSUPPORTED, "T5")
    return dict(
        vocabulary_size=config["vocab_size"],
        num_layers=config["num_layers"],
        num_decoder_layers=config.get("num_decoder_layers") or config["num_layers"],
        num_heads=config["num_heads"],
        hidden_dim=config["d_model"],
        intermediate_dim=config["d_ff"],
        key_dim=config.get("d_kv", 64),
        dropout=config.get("dropout_rate", 0.1),
        activation=common.ACTIVATIONS[projection],
        layer_norm_epsilon=config.get("layer_norm_epsilon", 1e-6),
        relative_attention_num_buckets=config.get("relative_attention_num_buckets", 32),
        relative_attention_max_distance=config.get("relative_attention_max_distance", 128),
    )


def _linear(weights, layer, name):
    """A bias-free torch Linear (out, in) -> Keras Dense kernel (in, out)."""
    weights.assign(layer.kernel, f"{name}.weight", np.transpose)


def load_backbone(backbone, weights):
    weights.assign(backbone.token_embedding.embeddings, "shared.weight")
    names = ("q", "k", "v", "o")
    for side, blocks in (("encoder", backbone.encoder_blocks), ("decoder", backbone.decoder_blocks)):
        weights.tied(f"{side}.embed_tokens.weight", "shared.weight")
        weights.assign(
            getattr(backbone, f"{side}_position_bias").embeddings,
            f"{side}.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
        )
        for i, block in enumerate(blocks):
            p = f"{side}.block.{i}.layer"
            hf_bart.attention(weights, block.self_attention, f"{p}.0.SelfAttention", names, use_bias=False)
            weights.assign(block.self_attention_norm.scale, f"{p}.0.layer_norm.weight")
            ffn = 1
            if side == "decoder":
                hf_bart.attention(weights, block.cross_attention_layer, f"{p}.1.EncDecAttention", names, use_bias=False)
                weights.assign(block.cross_attention_norm.scale, f"{p}.1.layer_norm.weight")
                ffn = 2
            _linear(weights, block.feed_forward.intermediate_dense, f"{p}.{ffn}.DenseReluDense.wi")
            _linear(weights, block.feed_forward.output_dense, f"{p}.{ffn}.DenseReluDense.wo")
            weights.assign(block.feed_forward_norm.scale, f"{p}.{ffn}.layer_norm.weight")
        weights.assign(getattr(backbone, f"{side}_final_norm").scale, f"{side}.final_layer_norm.weight")


def load(config, weights, task, num_classes):
    from kerasnlp_lite import models

    if task not in TASKS:
        raise ValueError(f"T5 checkpoints load as tasks {TASKS}, got task={task!r}.")
    backbone = models.T5Backbone(**backbone_kwargs(config))
    load_backbone(backbone, weights)
    if task != "seq2seq_lm":
        if weights.has("lm_head.weight"):
            weights.get("lm_head.weight")  # the head of a T5ForConditionalGeneration: not part of the backbone
        return backbone
    weights.tied("lm_head.weight", "shared.weight")
    return hf_bart.seq2seq_lm(backbone, config)
